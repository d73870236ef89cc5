"""The outbox against real parts: SQLite, PTB's ExtBot with our limiter, the strict fake Bot
API behind the fault-injecting proxy. Each test fails without the protection it names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.api import Order, Sms
from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser
from bot.metrics import Metrics
from bot.notifier import TelegramNotifier
from bot.outbox import Outbox
from bot.ratelimit import ChatRateLimiter
from bot.services.rates import DeliveryRates
from bot.store import Store, StoredOrder
from bot.store.rates import wait_bucket
from bot.tracker import OrderTracker
from tests.chaos.proxy import ChaosProxy, Fault
from tests.e2e.harness import eventually

ALICE, BOB = 1001, 2002


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    telegram: FakeBotApi
    proxy: ChaosProxy
    store: Store
    bot: ExtBot[Any]
    limiter: ChatRateLimiter
    clock: Clock
    notifier: TelegramNotifier
    outbox: Outbox
    tracker: OrderTracker

    def user(self, user_id: int) -> FakeUser:
        return self.telegram.user(user_id, first_name=f"U{user_id}")

    def pushes(self, user_id: int, needle: str = "") -> list[ChatMessage]:
        return [
            m
            for m in self.user(user_id).messages
            if m.from_bot and "SMS for" in m.text and needle in m.text
        ]

    async def settle(self, seconds: float = 0.0) -> None:
        """Let ``seconds`` pass on the outbox's clock, run a poller tick's outbox, wait."""
        self.clock.advance(seconds)
        await self.outbox.resend_pending()
        await self.outbox.idle()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot") as telegram:
        proxy = ChaosProxy(telegram.root, stall_seconds=2.0, retry_after=3)
        await proxy.start()
        store = await Store.open(tmp_path / "bot.sqlite3")
        limiter = ChatRateLimiter(private_burst=50)
        bot: ExtBot[Any] = ExtBot(
            telegram.token,
            base_url=f"{proxy.root}/bot",
            request=HTTPXRequest(
                connect_timeout=0.5, read_timeout=0.5, write_timeout=0.5, pool_timeout=0.5
            ),
            rate_limiter=limiter,
        )
        clock = Clock()
        notifier = TelegramNotifier(bot, store, Metrics(), clock=clock)
        outbox = Outbox(store, notifier, replica="r1", send_timeout=0.5, clock=clock)
        tracker = OrderTracker(store, notifier, outbox, rates=DeliveryRates(store))
        for user_id in (ALICE, BOB):
            telegram.user(user_id, first_name=f"U{user_id}").chat.started = True
            await store.ensure_user(user_id, "en")
        try:
            async with bot:
                yield World(telegram, proxy, store, bot, limiter, clock, notifier, outbox, tracker)
        finally:
            await outbox.stop()
            await store.close()
            await proxy.stop()


async def _order(world: World, order_id: str, user_id: int = ALICE) -> StoredOrder:
    order = StoredOrder(
        id=order_id,
        user_id=user_id,
        key_fingerprint="f",
        service="tg",
        service_name="Telegram",
        country_id="7",
        country_slug="my",
        phone=f"+6012{abs(hash(order_id)) % 10**7:07d}",
        status="WAITING",
        expires_at=world.clock.now + timedelta(minutes=20),
        charged_cents=41,
    )
    assert await world.store.save_order(order)
    assert await world.notifier.post_card(order) is not None
    stored = await world.store.get_order(order_id)
    assert stored is not None
    return stored


def _read(order: StoredOrder, *bodies: str, status: str = "RECEIVED") -> Order:
    base = order.created_at
    return Order(
        id=order.id,
        status=status,
        expires_at=order.expires_at,
        sms_history=tuple(Sms(b, base + timedelta(seconds=i)) for i, b in enumerate(bodies)),
    )


async def test_a_lost_answer_costs_at_most_one_repeat(world: World) -> None:
    order = await _order(world, "ck-drop")
    world.proxy.inject(Fault.DROP_AFTER, 10, match="sendMessage")  # every answer lost
    await world.tracker.apply(order, _read(order, "Your code is 111111"))
    await world.outbox.idle()
    assert len(world.pushes(ALICE)) == 1  # delivered; the bot cannot know
    await world.settle(0.5)
    assert len(world.pushes(ALICE)) == 1  # backoff: not retried at every tick
    for _ in range(5):
        await world.settle(40)
    assert len(world.pushes(ALICE, "111111")) == 2  # one repeat, then the push is given up
    [delivery] = await world.store.deliveries_for(order.id)
    assert delivery.given_up
    assert delivery.doubtful == 2
    # The card is the safety net: it shows the code.
    await world.notifier.show_card(order)
    card = next(m for m in world.user(ALICE).messages if "📱" in m.text)
    assert "🔑 111111" in card.text


async def test_a_connection_never_made_is_retried_until_delivered_once(world: World) -> None:
    order = await _order(world, "ck-down")
    await world.proxy.down()
    await world.tracker.apply(order, _read(order, "Your code is 222222"))
    await world.outbox.idle()
    for _ in range(6):  # minutes of outage: nothing is in doubt, nothing is given up
        await world.settle(40)
    [delivery] = await world.store.deliveries_for(order.id)
    assert delivery.attempts >= 6
    assert delivery.doubtful == 0
    assert not delivery.given_up
    await world.proxy.up()
    await world.settle(40)
    assert len(world.pushes(ALICE, "222222")) == 1


async def test_after_an_outage_codes_go_out_in_sms_order_then_one_edit_per_card(
    world: World,
) -> None:
    first = await _order(world, "ck-a")
    second = await _order(world, "ck-b")
    bobs = await _order(world, "ck-c", BOB)
    edits_before = len(world.telegram.calls("editMessageText"))
    await world.proxy.down()
    # During the outage SMS keep arriving and each read redraws the cards (which fails).
    await world.tracker.observe(first, _read(first, "A code 100001"))
    await world.tracker.observe(bobs, _read(bobs, "B code 300001"))
    await world.tracker.observe(second, _read(second, "A code 200001"))
    await world.tracker.observe(first, _read(first, "A code 100001", "A code 100002"))
    await world.outbox.idle()
    for _ in range(3):
        await world.settle(40)
    assert world.outbox.chats_in_flight == 0  # nothing held in memory while Telegram is down
    stale = {o.id for o in await world.store.stale_cards(world.clock.now)}
    assert stale == {"ck-a", "ck-b", "ck-c"}
    await world.proxy.up()
    await world.settle(40)
    codes = [m.text.split("code ")[-1] for m in world.pushes(ALICE)]
    assert codes == ["100001", "200001", "100002"]  # as the SMS arrived
    assert len(world.pushes(BOB, "300001")) == 1
    edits = world.telegram.calls("editMessageText")[edits_before:]
    assert sorted(int(e.params["chat_id"]) for e in edits) == [ALICE, ALICE, BOB]
    card = next(m for m in world.user(ALICE).messages if "📱" in m.text and "ck-a" in m.text)
    assert "🔑 100001" in card.text
    assert "🔑 100002" in card.text
    assert await world.store.stale_cards(world.clock.now + timedelta(hours=1)) == []


async def test_a_code_read_late_goes_before_the_later_ones_waiting_their_turn(
    world: World,
) -> None:
    early = await _order(world, "ck-early")
    late = await _order(world, "ck-late")
    base = early.created_at

    def read(order: StoredOrder, *sms: tuple[str, float]) -> Order:
        history = tuple(Sms(body, base + timedelta(seconds=at)) for body, at in sms)
        return Order(
            id=order.id, status="RECEIVED", expires_at=order.expires_at, sms_history=history
        )

    world.proxy.inject(Fault.SLOW_ANSWER, 1, match="sendMessage", seconds=0.3)  # sent, slowly
    # One poll read the first order's two SMS; the other order's, which came between them,
    # is read while the first code is being sent.
    await world.tracker.apply(early, read(early, ("A code 100001", 0), ("A code 100003", 2)))
    await eventually(lambda: world.proxy.count(Fault.SLOW_ANSWER) == 1, what="100001 in flight")
    await world.tracker.apply(late, read(late, ("B code 200002", 1)))
    await world.outbox.idle()
    codes = [m.text.split("code ")[-1] for m in world.pushes(ALICE)]
    assert codes == ["100001", "200002", "100003"]  # as the SMS arrived


async def test_a_stalled_chat_does_not_delay_another_users_code(world: World) -> None:
    alices = await _order(world, "ck-slow")
    bobs = await _order(world, "ck-fast", BOB)
    world.proxy.inject(Fault.STALL, 1, match="sendMessage")
    await world.tracker.apply(alices, _read(alices, "Your code is 444444"))
    await eventually(lambda: world.proxy.count(Fault.STALL) == 1, what="Alice's send stalls")
    await world.tracker.apply(bobs, _read(bobs, "Your code is 555555"))
    await eventually(lambda: bool(world.pushes(BOB, "555555")), within=1.0, what="Bob's code")
    assert world.pushes(ALICE) == []  # hers is still hanging
    await world.outbox.idle()
    await world.settle(40)
    assert len(world.pushes(ALICE, "444444")) == 1


async def test_flood_control_reschedules_that_chat_only(world: World) -> None:
    alices = await _order(world, "ck-flood")
    bobs = await _order(world, "ck-other", BOB)
    world.proxy.inject(Fault.TOO_MANY, 1, match="sendMessage")
    await world.tracker.apply(alices, _read(alices, "Your code is 666666", "Your code is 666667"))
    await world.outbox.idle()
    assert world.pushes(ALICE) == []
    await world.tracker.apply(bobs, _read(bobs, "Your code is 777777"))
    await world.outbox.idle()
    assert len(world.pushes(BOB)) == 1
    await world.settle(1)
    assert world.pushes(ALICE) == []  # retry_after (3 s) not over yet
    await eventually(lambda: world.limiter.waiting(ALICE) == 0, within=5)
    await world.settle(3)
    assert [m.text.split("is ")[-1] for m in world.pushes(ALICE)] == ["666666", "666667"]


async def test_a_final_notice_is_told_once_across_replicas(world: World, tmp_path: Path) -> None:
    order = await _order(world, "ck-final")
    other_store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        other_notifier = TelegramNotifier(world.bot, other_store, Metrics(), clock=world.clock)
        other_outbox = Outbox(other_store, other_notifier, replica="r2", clock=world.clock)
        other = OrderTracker(
            other_store, other_notifier, other_outbox, rates=DeliveryRates(other_store)
        )
        ended = _read(order, status="CANCELLED")
        await asyncio.gather(world.tracker.apply(order, ended), other.apply(order, ended))
        await asyncio.gather(world.outbox.idle(), other_outbox.idle())
        await other.finish_pending(order)
        await other_outbox.idle()
    finally:
        await other_store.close()
    told = [m for m in world.user(ALICE).messages if "before it expired" in m.text]
    assert len(told) == 1
    [counts] = await world.store.delivery_counts("tg", order.created_at.date())
    assert (counts.orders, counts.delivered) == (1, 0)  # counted once, by one of them


async def test_an_order_counts_in_its_rate_at_its_first_sms_once(world: World) -> None:
    order = await _order(world, "ck-rate")
    waiting = _read(order, status="WAITING")
    await world.tracker.apply(order, waiting)
    assert await world.store.delivery_counts("tg", order.created_at.date()) == []
    first = Order(
        id=order.id,
        status="RECEIVED",
        expires_at=order.expires_at,
        created_at=order.created_at,
        sms_history=(Sms("Your code is 222222", order.created_at + timedelta(seconds=40)),),
    )
    await world.tracker.apply(order, first)
    await world.tracker.apply(order, _read(order, "a", "b", status="COMPLETED"))
    [counts] = await world.store.delivery_counts("tg", order.created_at.date())
    assert (counts.orders, counts.delivered) == (1, 1)
    assert counts.waits[wait_bucket(40)] == 1
    await world.outbox.idle()


async def test_a_finished_order_looked_at_again_changes_and_tells_nothing(world: World) -> None:
    """A tap on an old order's card reads it from the API again: once it was announced and
    counted, that read is answered from the stored row (no writes: the tracker's shortcut)
    and the row is the one the first read left."""
    order = await _order(world, "ck-old")
    done = _read(order, "Your code is 333333", status="COMPLETED")
    first = await world.tracker.apply(order, done)
    await world.outbox.idle()
    assert first.is_final
    assert first.final_notified
    assert first.rate_counted
    again = await world.tracker.apply(first, done)
    assert again == first
    stored = await world.store.get_order(order.id)
    assert stored == first
    assert len(world.pushes(ALICE)) == 1
    [counts] = await world.store.delivery_counts("tg", order.created_at.date())
    assert (counts.orders, counts.delivered) == (1, 1)


async def test_a_send_that_died_with_its_replica_is_sent_once_more_at_start(
    world: World,
) -> None:
    order = await _order(world, "ck-crash")
    await world.store.claim_delivery(order.id, 0, "Your code is 888888", world.clock.now)
    now = world.clock.now
    claimed = await world.store.claim_due_deliveries(
        "r1", now, now + timedelta(hours=1), user_id=ALICE
    )
    assert len(claimed) == 1  # r1 claimed it, then died before recording anything
    await world.settle()
    assert world.pushes(ALICE) == []  # still held by the dead claim
    await world.outbox.reclaim_own()  # r1 starts again
    await world.settle()
    assert len(world.pushes(ALICE, "888888")) == 1
    [delivery] = await world.store.deliveries_for(order.id)
    assert delivery.doubtful == 1
    assert delivery.message_id is not None


async def test_a_stale_card_is_not_retried_at_every_poll_only_when_due_or_pressed(
    world: World,
) -> None:
    order = await _order(world, "ck-stale")
    await world.tracker.apply(order, _read(order, "Your code is 999999"))
    await world.outbox.idle()
    world.proxy.inject(Fault.BAD_GATEWAY, 1, match="editMessageText")
    await world.notifier.show_card(order)  # fails: the card is stale for CARD_RETRY
    edits = len(world.telegram.calls("editMessageText"))
    for _ in range(3):  # poll ticks meanwhile cost no request
        await world.notifier.show_card(order)
    assert world.proxy.count(Fault.BAD_GATEWAY) == 1
    assert len(world.telegram.calls("editMessageText")) == edits
    await world.settle(11)  # its retry time: the outbox redraws it once
    assert len(world.telegram.calls("editMessageText")) == edits + 1
    card = next(m for m in world.user(ALICE).messages if "📱" in m.text)
    assert "🔑 999999" in card.text
