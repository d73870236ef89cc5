"""Fixtures of the playground tests: Chromium through Playwright, the playground itself."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from bot.playground import run_playground
from tests.browser import chromium

# The machine is shared: give the page more time than Playwright's default 5 s.
expect.set_options(timeout=15_000)


def free_port_pair() -> int:
    """A loopback port whose successor is free too (the web chat and the bot's HTTP server)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A desktop-sized browser context that may read and write the clipboard."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context
    await context.close()


@dataclass
class Playground:
    url: str
    data_dir: Path

    def bot_log(self) -> str:
        log = self.data_dir / "bot.log"
        return log.read_text(errors="replace") if log.exists() else ""


@pytest.fixture
async def playground(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Playground]:
    """``run_playground`` on free ports, in this event loop; the bot polls orders twice a
    second (the playground passes the environment through).

    ``@pytest.mark.bot_env(NAME="value")`` adds environment variables for the bot.
    """
    monkeypatch.setenv("POLL_INTERVAL", "0.5")
    marker = request.node.get_closest_marker("bot_env")
    for name, value in (marker.kwargs if marker else {}).items():
        monkeypatch.setenv(name, value)
    port = free_port_pair()
    stop = asyncio.Event()
    data_dir = tmp_path / "data"
    task = asyncio.create_task(run_playground(("127.0.0.1", port), data_dir, stop))
    url = f"http://127.0.0.1:{port}/"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not await _listening("127.0.0.1", port):
        if task.done():
            task.result()  # raises what stopped it
            raise AssertionError("the playground stopped before its web chat was up")
        if loop.time() > deadline:
            task.cancel()
            raise AssertionError("the playground's web chat did not start within 20 s")
        await asyncio.sleep(0.05)
    yield Playground(url, data_dir)
    stop.set()
    await asyncio.wait_for(task, 30)
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("---- bot log ----\n" + Playground(url, data_dir).bot_log()[-20000:])


async def _listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError):
        _, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()
        return True
    return False


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures know whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
