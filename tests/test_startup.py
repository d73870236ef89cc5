"""Waiting for Telegram at start: a refused token stops, an unreachable Telegram is waited out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.fakebotapi import FakeBotApi
from bot.startup import TokenRefusedError, wait_for_telegram
from tests.chaos.proxy import ChaosProxy, Fault


@pytest.fixture
async def proxy(telegram: FakeBotApi) -> AsyncIterator[ChaosProxy]:
    chaos = ChaosProxy(telegram.root, stall_seconds=1.0)
    await chaos.start()
    yield chaos
    await chaos.stop()


def _bot(root: str, token: str | None = None) -> Bot:
    request = HTTPXRequest(connect_timeout=0.5, read_timeout=0.5, pool_timeout=0.5)
    return Bot(token or "123456:TEST", base_url=f"{root}/bot", request=request)


async def test_a_refused_token_raises_one_line_naming_the_variable(telegram: FakeBotApi) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(TokenRefusedError) as caught:
        await wait_for_telegram(_bot(telegram.root, "123456:WRONG"), sleep=sleep)
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "WRONG" not in str(caught.value)
    assert waits == []


async def test_an_unreachable_telegram_is_retried_with_capped_backoff_until_it_answers(
    proxy: ChaosProxy, caplog: pytest.LogCaptureFixture
) -> None:
    await proxy.down()
    proxy.inject(Fault.BAD_GATEWAY, 2, match="getMe")  # once reachable, two 502s first
    waits: list[float] = []
    told: list[str] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 4:
            await proxy.up()

    caplog.set_level(logging.WARNING, "bot.startup")
    me = await wait_for_telegram(
        _bot(proxy.root), sleep=sleep, on_retry=lambda why, _: told.append(why), max_delay=4
    )
    assert me.username == "jiema_test_bot"
    assert waits == [1, 2, 4, 4, 4, 4]  # 4 refused connections, then 2 Bad Gateways
    assert "ConnectError" in told[0]
    assert told[-1] == "Bad Gateway (502)"
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.startup"]
    assert lines[0].startswith("Telegram unreachable (ConnectError")
    assert lines[0].endswith("retrying in 1 s")
    assert len(lines) == 6
