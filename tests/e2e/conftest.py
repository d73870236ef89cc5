"""Fixtures of the end-to-end journeys: the sandbox API, the fake Bot API, the bot process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser
from bot.sandbox import SandboxConfig, SandboxServer
from tests.e2e.harness import BotProcess
from tests.e2e.inprocess import InProcessBot


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    """The jiema API; SMS arrive only when a test delivers them."""
    server = SandboxServer(SandboxConfig(sms_delay=None, hang_seconds=5.0))
    await server.start()
    yield server
    await server.stop()


Deployment = BotProcess | InProcessBot


@pytest.fixture
async def deployment(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Deployment]:
    """The bot's deployment (data dir, environment), not started yet.

    A ``python -m bot`` process, or with ``pytest.mark.in_process`` (on a module, a class or a
    test) the same bot run in the test's event loop (:class:`InProcessBot`: several times
    faster to start; no SIGKILL); ``pytest.mark.bot_process`` on a test of such a module
    takes the process again; so does every test with ``E2E_BOT=process`` in the environment
    (to compare the two).
    ``@pytest.mark.bot_env(NAME="value")`` adds environment variables (e.g. a slow poller).
    Stopped at the end if running; its log is printed if the test failed.
    """
    marker = request.node.get_closest_marker("bot_env")
    extra_env = marker.kwargs if marker else None
    data_dir = tmp_path / "data"
    in_process = request.node.get_closest_marker("in_process") is not None
    in_process &= request.node.get_closest_marker("bot_process") is None
    bot: Deployment
    if in_process and os.environ.get("E2E_BOT") != "process":
        bot = InProcessBot(telegram, sandbox, data_dir, extra_env=extra_env)
        yield bot
        await bot.close()
    else:
        bot = BotProcess(telegram, sandbox, data_dir, extra_env=extra_env)
        yield bot
        if bot.running:
            await bot.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("---- bot log ----\n" + bot.log()[-20000:])


@pytest.fixture
async def bot(deployment: Deployment) -> Deployment:
    """The bot, running."""
    await deployment.start()
    return deployment


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def sandbox_orders(sandbox: SandboxServer, key: str) -> list[dict[str, Any]]:
    """The account's orders as the sandbox knows them now, newest first."""
    return sandbox.orders(key)


Linker = Callable[..., Awaitable[FakeUser]]


@pytest.fixture
def linked_user(telegram: FakeBotApi, sandbox: SandboxServer) -> Linker:
    """Make a user with a funded sandbox account whose key is linked to the bot."""

    async def make(
        user_id: int = 1001,
        *,
        balance_cents: int = 2500,
        language_code: str = "en",
        first_name: str = "Alice",
    ) -> FakeUser:
        key = sandbox.create_account(balance_cents=balance_cents, display_name=first_name)
        user = telegram.user(user_id, first_name=first_name, language_code=language_code)
        user.key = key
        await user.send(f"/link {key}")
        await user.wait_for_message(lambda m: "<b>" in (m.html or "") and first_name in m.text)
        return user

    return make


async def confirmation(user: FakeUser, service: str = "Telegram", country: int = 0) -> ChatMessage:
    """Walk /buy → service → the ``country``-th cheapest country; the confirmation screen."""
    await user.send("/buy")
    screen = await user.wait_for_message(lambda m: "Choose a service" in m.text)
    await user.press(screen, service)
    countries = await user.wait_for(
        lambda m: m.message_id == screen.message_id and "choose a country" in m.text
    )
    await user.press(countries, countries.buttons[country][0].text)
    return await user.wait_for(
        lambda m: m.message_id == screen.message_id and "Confirm your purchase" in m.text
    )


async def buy(user: FakeUser, service: str = "Telegram", country: int = 0) -> ChatMessage:
    """Buy through the chat like a person would; the order card."""
    confirm = await confirmation(user, service, country)
    await user.press(confirm, "Buy")
    return await user.wait_for(
        lambda m: m.message_id == confirm.message_id and "Waiting for SMS" in m.text
    )
