"""Fixtures of the chaos tests: the fakes, a fault-injecting proxy in front of each, and the
bot process talking to the proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxConfig, SandboxServer
from tests.chaos.proxy import ChaosProxy
from tests.e2e.conftest import linked_user, pytest_runtest_makereport  # noqa: F401
from tests.e2e.harness import BotProcess

TELEGRAM_TIMEOUT = 1.0
"""The bot's TELEGRAM_TIMEOUT in these tests: stalls hold requests past it."""


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(SandboxConfig(sms_delay=None, hang_seconds=5.0))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tg_proxy(telegram: FakeBotApi) -> AsyncIterator[ChaosProxy]:
    """Between the bot and the fake Bot API."""
    proxy = ChaosProxy(telegram.root, stall_seconds=TELEGRAM_TIMEOUT + 1.5)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def api_proxy(sandbox: SandboxServer) -> AsyncIterator[ChaosProxy]:
    """Between the bot and the sandbox jiema API."""
    parts = urlsplit(sandbox.base_url)
    proxy = ChaosProxy(f"{parts.scheme}://{parts.netloc}", stall_seconds=3.0)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def deployment(
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    tg_proxy: ChaosProxy,
    api_proxy: ChaosProxy,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[BotProcess]:
    """The bot, not started, with both APIs behind the proxies; its log printed on failure."""
    process = BotProcess(
        telegram,
        sandbox,
        tmp_path / "data",
        extra_env={
            "TELEGRAM_API_URL": tg_proxy.root,
            "JIEMA_API_URL": api_proxy.root + urlsplit(sandbox.base_url).path,
            "TELEGRAM_TIMEOUT": str(TELEGRAM_TIMEOUT),
            "JIEMA_TIMEOUT": "1.5",
        },
    )
    yield process
    if process.process is not None and process.process.returncode is None:
        await process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("---- bot log ----\n" + process.log()[-30000:])
