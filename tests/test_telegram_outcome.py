"""Classifying what became of a Telegram call, through a real PTB bot and real sockets.

Each journey runs over PTB's own request (httpx's transport) and over the bot's
(:class:`bot.telegram_request.TelegramRequest`, on aiohttp's transport): they must tell the
same story.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.fakebotapi import FakeBotApi
from bot.metrics import Metrics
from bot.telegram_outcome import Refused, RetryLater, Sent, Unknown, attempt, classify
from bot.telegram_request import TelegramRequest
from tests.chaos.proxy import ChaosProxy, Fault


@pytest.fixture
async def proxy(telegram: FakeBotApi) -> AsyncIterator[ChaosProxy]:
    chaos = ChaosProxy(telegram.root, stall_seconds=1.0)
    await chaos.start()
    yield chaos
    await chaos.stop()


MakeBot = Callable[[str], Bot]


@pytest.fixture(params=["ptb", "bot"])
def make_bot(request: pytest.FixtureRequest) -> MakeBot:
    def make(root: str) -> Bot:
        http: BaseRequest = (
            HTTPXRequest(connect_timeout=0.4, read_timeout=0.4, write_timeout=0.4, pool_timeout=0.4)
            if request.param == "ptb"
            else TelegramRequest(Metrics(), connection_pool_size=8, timeout=0.4)
        )
        return Bot("123456:TEST", base_url=f"{root}/bot", request=http)

    return make


async def test_a_delivered_message_is_sent(
    telegram: FakeBotApi, proxy: ChaosProxy, make_bot: MakeBot
) -> None:
    telegram.user(1001, first_name="Alice").chat.started = True
    async with make_bot(proxy.root) as bot:
        outcome = await attempt(bot.send_message(1001, "hi"))
    assert isinstance(outcome, Sent)
    assert outcome.value.text == "hi"


@pytest.mark.parametrize("fault", [Fault.BAD_GATEWAY, Fault.DROP_AFTER, Fault.SLOW_ANSWER])
async def test_a_request_that_went_out_without_an_intact_answer_is_unknown(
    telegram: FakeBotApi, proxy: ChaosProxy, fault: Fault, make_bot: MakeBot
) -> None:
    alice = telegram.user(1001, first_name="Alice")
    alice.chat.started = True
    async with make_bot(proxy.root) as bot:
        await bot.get_me()
        proxy.inject(fault, match="sendMessage")
        outcome = await attempt(bot.send_message(1001, "hi"))
    assert isinstance(outcome, Unknown), outcome
    if fault is not Fault.BAD_GATEWAY:  # those two were delivered: a retry would repeat it
        assert [m.text for m in alice.messages] == ["hi"]


async def test_a_reset_before_forwarding_is_unknown_too(
    telegram: FakeBotApi, proxy: ChaosProxy, make_bot: MakeBot
) -> None:
    # The client cannot tell a reset before forwarding from one after delivery.
    telegram.user(1001, first_name="Alice").chat.started = True
    async with make_bot(proxy.root) as bot:
        await bot.get_me()
        proxy.inject(Fault.RESET, match="sendMessage")
        assert isinstance(await attempt(bot.send_message(1001, "hi")), Unknown)


async def test_a_connection_never_made_is_refused(proxy: ChaosProxy, make_bot: MakeBot) -> None:
    async with make_bot(proxy.root) as bot:
        await proxy.down()  # connections to its port are refused now
        outcome = await attempt(bot.send_message(1001, "hi"))
        assert isinstance(outcome, Refused)
        assert not outcome.blocked
        assert isinstance(outcome.error, NetworkError)
        await proxy.up()
        assert isinstance(await attempt(bot.get_me()), Sent)


async def test_a_blocked_chat_is_refused_as_blocked(
    telegram: FakeBotApi, make_bot: MakeBot
) -> None:
    telegram.user(1001, first_name="Alice").block()
    async with make_bot(telegram.root) as bot:
        outcome = await attempt(bot.send_message(1001, "hi"))
    assert isinstance(outcome, Refused)
    assert outcome.blocked


async def test_a_bad_request_is_refused(telegram: FakeBotApi, make_bot: MakeBot) -> None:
    telegram.user(1001, first_name="Alice").chat.started = True
    async with make_bot(telegram.root) as bot:
        outcome = await attempt(bot.send_message(1001, "<b>unclosed", parse_mode="HTML"))
    assert isinstance(outcome, Refused)
    assert "parse entities" in outcome.description


def test_exceptions_as_ptb_raises_them() -> None:
    def chained(error: NetworkError, cause: BaseException) -> NetworkError:
        error.__cause__ = cause
        return error

    assert classify(RetryAfter(7)) == RetryLater(timedelta(seconds=7))
    assert isinstance(classify(Forbidden("Forbidden: bot was blocked by the user")), Refused)
    assert isinstance(classify(BadRequest("Bad Request: chat not found")), Refused)
    never = [httpx.ConnectError("x"), httpx.ConnectTimeout("x"), httpx.PoolTimeout("x")]
    for cause in never:
        assert isinstance(classify(chained(TimedOut(), cause)), Refused), cause
    maybe = [httpx.ReadTimeout("x"), httpx.WriteTimeout("x"), httpx.RemoteProtocolError("x")]
    for cause in maybe:
        assert isinstance(classify(chained(TimedOut(), cause)), Unknown), cause
    assert isinstance(classify(NetworkError("Bad Gateway (502)")), Unknown)
