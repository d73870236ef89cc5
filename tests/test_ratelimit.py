"""The outgoing limiter: a 429 holds up its own chat only; background sends never wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.fakebotapi import FakeBotApi
from bot.ratelimit import BACKGROUND, CODE, ChatRateLimiter, SendPolicy
from tests.chaos.proxy import ChaosProxy, Fault
from tests.e2e.harness import eventually


@pytest.fixture
def telegram(telegram: FakeBotApi) -> FakeBotApi:
    """The shared fake, with Alice and Bob, who started the bot."""
    for user_id, name in ((1001, "Alice"), (2002, "Bob")):
        telegram.user(user_id, first_name=name).chat.started = True
    return telegram


@pytest.fixture
async def proxy(telegram: FakeBotApi) -> AsyncIterator[ChaosProxy]:
    chaos = ChaosProxy(telegram.root, retry_after=1)
    await chaos.start()
    yield chaos
    await chaos.stop()


@pytest.fixture
async def bot(proxy: ChaosProxy) -> AsyncIterator[ExtBot[Any]]:
    extbot: ExtBot[Any] = ExtBot(
        "123456:TEST",
        base_url=f"{proxy.root}/bot",
        request=HTTPXRequest(read_timeout=5),
        rate_limiter=ChatRateLimiter(),
    )
    async with extbot:
        yield extbot


async def test_a_429_in_one_chat_does_not_hold_up_another(
    bot: ExtBot[Any], proxy: ChaosProxy, telegram: FakeBotApi
) -> None:
    proxy.inject(Fault.TOO_MANY, match="sendMessage")
    alice = asyncio.create_task(bot.send_message(1001, "for Alice"))
    await eventually(lambda: proxy.count(Fault.TOO_MANY) == 1, what="Alice's 429")
    await bot.send_message(2002, "for Bob")  # PTB's AIORateLimiter would pause this 2 s
    assert not alice.done()
    assert [m.text for m in telegram.user(2002, first_name="Bob").messages] == ["for Bob"]
    message = await asyncio.wait_for(alice, 5)  # retried after retry_after, for her alone
    assert message.text == "for Alice"


async def test_a_background_send_is_not_retried_and_not_sent_while_its_chat_waits(
    bot: ExtBot[Any], proxy: ChaosProxy
) -> None:
    proxy.inject(Fault.TOO_MANY, match="sendMessage")
    with pytest.raises(RetryAfter):
        await bot.send_message(1001, "code", rate_limit_args=BACKGROUND)
    forwarded = proxy.forwarded["sendMessage"]
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1001, "code", rate_limit_args=BACKGROUND)
    assert proxy.forwarded["sendMessage"] == forwarded  # no request: the chat still waits
    assert caught.value.retry_after == 1
    await bot.send_message(2002, "other chat", rate_limit_args=BACKGROUND)
    assert proxy.forwarded["sendMessage"] == forwarded + 1


def _sender(
    limiter: ChatRateLimiter, sent: list[int]
) -> Callable[[int], Coroutine[Any, Any, None]]:
    """``send(chat_id)``: one message through ``limiter``, recorded in ``sent`` when made."""

    async def send(chat_id: int) -> None:
        async def call() -> bool:
            sent.append(chat_id)
            return True

        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat_id}, None)

    return send


@pytest.mark.looptime
async def test_replicas_share_the_overall_rate() -> None:
    loop = asyncio.get_running_loop()
    limiter = ChatRateLimiter(overall_rate=6)
    sent: list[int] = []
    send = _sender(limiter, sent)
    start = loop.time()

    limiter.share_overall(3)  # 2 per second for this replica: each call takes 3 of the 6
    await asyncio.gather(send(1), send(2))  # distinct chats: only the overall rate applies
    assert loop.time() == start
    await send(3)  # waits until 3 units have drained at 6 a second
    assert loop.time() - start == pytest.approx(0.5, abs=0.01)
    assert sent == [1, 2, 3]
    limiter.share_overall(1)  # alone again: the full rate, once the bucket has drained
    await asyncio.sleep(1.0)
    drained = loop.time()
    await asyncio.gather(*(send(c) for c in range(10, 16)))
    assert loop.time() == drained  # a burst of the whole rate, without waiting


@pytest.mark.looptime
async def test_a_new_share_does_not_reset_what_was_just_sent() -> None:
    """Replicas joining cut this one's share; the sends it just made still count (a fresh
    bucket at the new rate would let a whole second's burst through on top of them)."""
    loop = asyncio.get_running_loop()
    limiter = ChatRateLimiter(overall_rate=6)
    sent: list[int] = []
    send = _sender(limiter, sent)
    start = loop.time()

    await asyncio.gather(*(send(c) for c in range(1, 7)))  # the full bucket, at once
    assert loop.time() == start
    limiter.share_overall(2)
    await send(7)  # the bucket is still full of the six: 2 units drain in a third of a second
    assert loop.time() - start == pytest.approx(1 / 3, abs=0.01)
    assert sent == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.looptime
async def test_a_code_goes_ahead_of_the_card_edits_waiting_in_its_chat() -> None:
    limiter = ChatRateLimiter(private_burst=1)  # one call at once, then 1/s per chat
    order: list[str] = []

    async def call(what: str, endpoint: str, policy: SendPolicy | None) -> None:
        async def record() -> bool:
            order.append(what)
            return True

        await limiter.process_request(record, (), {}, endpoint, {"chat_id": 1001}, policy)

    await call("card 1", "editMessageText", BACKGROUND)  # the chat's allowance is spent
    waiting = [
        asyncio.create_task(call(f"card {n}", "editMessageText", BACKGROUND)) for n in (2, 3)
    ]
    await asyncio.sleep(0)  # both cards wait for the chat's pace
    code = asyncio.create_task(call("code", "sendMessage", CODE))
    await asyncio.wait_for(asyncio.gather(code, *waiting), 4)
    assert order[:2] == ["card 1", "card 2"]  # card 2 was already waiting inside the pace
    assert order[2:] == ["code", "card 3"]


@pytest.mark.looptime
async def test_more_replicas_than_sends_per_second_still_share_the_rate() -> None:
    """20 replicas of a 10/s bot: this one sends one message every 2 s, not one a second."""
    loop = asyncio.get_running_loop()
    limiter = ChatRateLimiter(overall_rate=10)
    sent: list[int] = []
    send = _sender(limiter, sent)
    limiter.share_overall(20)
    start = loop.time()
    await send(1)
    assert loop.time() == start
    await send(2)
    assert loop.time() - start == pytest.approx(2.0, abs=0.01)
    assert sent == [1, 2]
