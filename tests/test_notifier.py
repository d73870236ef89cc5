"""The notifier (bot/notifier.py) against the strict fake Bot API, behind the fault proxy,
on SQLite, with the card retry clock driven by the test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import ExtBot

from bot import views
from bot.api import Sms
from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser
from bot.i18n import get_translator
from bot.metrics import Metrics
from bot.notifier import CARD_CLAIM, CARD_RETRY, TelegramNotifier
from bot.ratelimit import ChatRateLimiter
from bot.store import Store, StoredOrder
from bot.telegram_outcome import Sent
from tests.chaos.proxy import ChaosProxy, Fault
from tests.e2e.harness import eventually
from tests.polling import WallClock

ALICE = 1001
EN = get_translator("en")


@dataclass
class World:
    telegram: FakeBotApi
    proxy: ChaosProxy
    store: Store
    bot: ExtBot[Any]
    clock: WallClock
    metrics: Metrics
    notifier: TelegramNotifier

    @property
    def alice(self) -> FakeUser:
        return self.telegram.user(ALICE, first_name="Alice")

    def cards(self) -> list[ChatMessage]:
        return [m for m in self.alice.messages if m.from_bot and "📱" in m.text]

    def edits(self) -> int:
        return len(self.telegram.calls("editMessageText"))

    async def order(self, order_id: str = "ck-1") -> StoredOrder:
        order = StoredOrder(
            id=order_id,
            user_id=ALICE,
            key_fingerprint="f",
            service="tg",
            service_name="Telegram",
            country_id="7",
            country_slug="my",
            phone="+60123456789",
            status="WAITING",
            expires_at=self.clock.now + timedelta(minutes=20),
            charged_cents=41,
        )
        assert await self.store.save_order(order)
        return await self.reread(order_id)

    async def card_behind(self) -> StoredOrder:
        """An order whose card was posted, then the order got its SMS: a redraw is due."""
        order = await self.order()
        await self.notifier.post_card(order)
        return await self.change(order.id, "RECEIVED")

    async def reread(self, order_id: str) -> StoredOrder:
        got = await self.store.get_order(order_id)
        assert got is not None
        return got

    async def change(self, order_id: str, status: str) -> StoredOrder:
        """The order moves on, as a poll would record it."""
        assert await self.store.set_order_status(order_id, status)
        return await self.reread(order_id)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot") as telegram:
        proxy = ChaosProxy(telegram.root, stall_seconds=2.0, retry_after=1)
        await proxy.start()
        clock = WallClock()
        store = await Store.open(tmp_path / "bot.sqlite3", clock=clock)
        bot: ExtBot[Any] = ExtBot(
            telegram.token,
            base_url=f"{proxy.root}/bot",
            rate_limiter=ChatRateLimiter(private_burst=50),
        )
        metrics = Metrics()
        notifier = TelegramNotifier(bot, store, metrics, clock=clock)
        telegram.user(ALICE, first_name="Alice").chat.started = True
        await store.ensure_user(ALICE, "en")
        try:
            async with bot:
                yield World(telegram, proxy, store, bot, clock, metrics, notifier)
        finally:
            await store.close()
            await proxy.stop()


async def test_a_card_is_posted_once_then_edited_in_place(world: World) -> None:
    order = await world.order()
    assert not world.notifier.card_is_current(order, "en")  # no card yet
    message_id = await world.notifier.post_card(order)
    assert message_id is not None
    order = await world.reread(order.id)
    assert order.card_message_id == message_id
    assert world.notifier.card_is_current(order, "en")
    order = await world.change(order.id, "CANCELLED")
    assert not world.notifier.card_is_current(order, "en")
    await world.notifier.show_card(order)
    [card] = world.cards()
    assert card.message_id == message_id
    assert card.edited == 1
    assert "Cancelled" in card.text
    await world.notifier.show_card(await world.reread(order.id))  # nothing changed
    assert world.edits() == 1


async def test_message_is_not_modified_is_not_an_error(world: World) -> None:
    order = await world.order()
    await world.notifier.post_card(order)
    drawn_before = (await world.reread(order.id)).card_hash
    order = await world.change(order.id, "RECEIVED")
    await world.notifier.show_card(order)
    # A crash right after the edit: the database still says the card shows the old state.
    assert drawn_before is not None
    await world.store.set_card_hash(order.id, drawn_before)
    await world.notifier.show_card(await world.reread(order.id))
    assert world.edits() == 2  # Telegram said "message is not modified"...
    after = await world.reread(order.id)
    assert after.card_retry_at is None  # ...which is not a failure: not stale,
    assert world.notifier.card_is_current(after, "en")  # the card is known current,
    assert len(world.cards()) == 1  # and not sent again
    await world.notifier.show_card(after)
    assert world.edits() == 2


async def test_a_failed_edit_leaves_the_card_stale_and_retried_only_when_due(
    world: World,
) -> None:
    order = await world.card_behind()
    world.proxy.inject(Fault.BAD_GATEWAY, 1, match="editMessageText")
    await world.notifier.show_card(order)
    stale = await world.reread(order.id)
    assert stale.card_retry_at == world.clock.now + CARD_RETRY
    assert world.notifier.card_is_current(stale, "en")  # the poller leaves it alone
    edits = world.edits()
    world.clock.advance(CARD_RETRY.total_seconds() - 1)
    await world.notifier.show_card(stale)  # a poll before its time costs no request
    assert world.edits() == edits
    world.clock.advance(1)
    assert not world.notifier.card_is_current(await world.reread(order.id), "en")
    await world.notifier.show_card(stale)
    assert world.edits() == edits + 1
    [card] = world.cards()
    assert "SMS received" in card.text
    assert (await world.reread(order.id)).card_retry_at is None


async def test_a_card_whose_replica_died_mid_edit_is_redrawn_when_its_claim_ends(
    world: World,
) -> None:
    order = await world.card_behind()
    # The redraw is claimed, then its replica is killed while the edit is on its way.
    world.proxy.inject(Fault.STALL, 1, match="editMessageText")
    drawing = asyncio.create_task(world.notifier.show_card(order))
    await eventually(lambda: world.proxy.count(Fault.STALL) == 1, what="the edit under way")
    drawing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await drawing
    claimed = await world.reread(order.id)
    assert world.notifier.card_is_current(claimed, "en")  # another may still be drawing
    await world.notifier.show_card(claimed)
    assert world.edits() == 0
    world.clock.advance(CARD_CLAIM.total_seconds() - 1)
    assert await world.store.stale_cards(world.clock.now) == []  # still drawing, maybe
    world.clock.advance(1)
    [due] = await world.store.stale_cards(world.clock.now)  # the outbox's sweep finds it
    assert not world.notifier.card_is_current(due, "en")
    await world.notifier.show_card(due)
    assert world.edits() == 1
    assert "SMS received" in world.cards()[0].text
    drawn = await world.reread(order.id)
    assert drawn.card_retry_at is None
    assert world.notifier.card_is_current(drawn, "en")


async def test_a_stale_card_is_redrawn_at_once_when_its_user_presses_it(world: World) -> None:
    order = await world.card_behind()
    world.proxy.inject(Fault.BAD_GATEWAY, 1, match="editMessageText")
    await world.notifier.show_card(order)
    edits = world.edits()
    await world.notifier.show_card(order, now=True)
    assert world.edits() == edits + 1
    assert "SMS received" in world.cards()[0].text


async def test_flood_control_on_an_edit_waits_telegrams_retry_after(world: World) -> None:
    order = await world.card_behind()
    world.proxy.inject(Fault.TOO_MANY, 1, match="editMessageText")
    await world.notifier.show_card(order)
    stale = await world.reread(order.id)
    assert stale.card_retry_at == world.clock.now + timedelta(seconds=1)  # not CARD_RETRY


async def test_a_deleted_card_is_sent_again(world: World) -> None:
    order = await world.order()
    first = await world.notifier.post_card(order)
    assert first is not None
    await world.bot.delete_message(ALICE, first)
    await world.notifier.show_card(await world.change(order.id, "RECEIVED"))
    [card] = [m for m in world.cards() if not m.deleted]
    assert card.message_id != first
    assert "SMS received" in card.text
    assert (await world.reread(order.id)).card_message_id == card.message_id


async def test_a_code_comes_in_its_own_message_with_a_copy_button(world: World) -> None:
    order = await world.order()
    sms = Sms("Your code is 123456", world.clock.now - timedelta(seconds=5))
    outcome = await world.notifier.push_code(order, sms)
    assert isinstance(outcome, Sent)
    [message] = [m for m in world.alice.messages if m.message_id == outcome.value]
    assert "Code: 123456" in message.text
    assert "Your code is 123456" in message.text
    assert message.reply_markup is not None
    [[button]] = message.reply_markup["inline_keyboard"]
    assert button["copy_text"] == {"text": "123456"}
    registry = world.metrics.registry
    assert registry.get_sample_value("jiemabot_codes_delivered_total") == 1
    # Its latency from the SMS's arrival, on the injected clock.
    assert registry.get_sample_value("jiemabot_code_latency_seconds_sum") == 5


async def test_the_notices_reach_the_user(world: World) -> None:
    order = await world.change((await world.order()).id, "CANCELLED")
    ended = await world.notifier.tell_final(order)
    assert isinstance(ended, Sent)
    assert await world.notifier.tell_key_revoked(ALICE)
    assert await world.notifier.tell_not_bought(ALICE)
    texts = [m.text for m in world.alice.messages if m.from_bot]
    assert len(texts) == 3
    assert texts[0] == views.order_ended(EN, order).text
    assert "no longer accepts your API key" in texts[1]
    assert texts[2] == views.purchase_not_made(EN).text


async def test_a_user_who_blocked_the_bot_is_marked_unreachable_and_left_alone(
    world: World,
) -> None:
    order = await world.order()
    world.alice.block()
    assert await world.notifier.push_code(order, Sms("Your code is 111111", None)) is None
    user = await world.store.get_user(ALICE)
    assert user is not None
    assert not user.chat_active
    sends = len(world.telegram.calls("sendMessage"))
    assert not await world.notifier.tell_key_revoked(ALICE)
    assert await world.notifier.post_card(order) is None
    assert len(world.telegram.calls("sendMessage")) == sends  # not even tried
