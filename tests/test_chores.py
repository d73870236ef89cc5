"""The fleet's chores (:class:`bot.chores.FleetChores`): lost purchases settled and told, on
one replica at a time, the lease handed back at a polite stop.

Real parts throughout: the sandbox behind the real client, SQLite with a clock the test
moves, the strict fake Bot API behind a real notifier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram.ext import ExtBot

from bot.chores import RECONCILE_LEASE, FleetChores
from bot.fakebotapi import FakeBotApi
from bot.metrics import Metrics
from bot.notifier import TelegramNotifier
from bot.store import Purchase
from tests.e2e.harness import eventually
from tests.services.test_purchases import USER, World, _country, _offered, world  # noqa: F401


@pytest.fixture
async def fleet(world: World) -> AsyncIterator[tuple[FakeBotApi, FleetChores, FleetChores]]:  # noqa: F811
    """Two replicas' chores over one database, telling one chat."""
    async with FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot") as telegram:
        bot: ExtBot[None] = ExtBot(telegram.token, base_url=f"{telegram.root}/bot")
        await bot.initialize()
        notifier = TelegramNotifier(bot, world.store, Metrics())
        await telegram.user(USER, first_name="Ann").send("/start")  # the chat is open
        a, b = (
            FleetChores(world.store, world.purchases, notifier, replica_id=name, interval=30.0)
            for name in ("a", "b")
        )
        yield telegram, a, b
        await a.stop()
        await b.stop()
        await bot.shutdown()


async def test_a_lost_purchase_gets_its_card_from_one_replica_only(
    world: World,  # noqa: F811
    fleet: tuple[FakeBotApi, FleetChores, FleetChores],
) -> None:
    telegram, a, b = fleet
    purchase = await _offered(world)
    claimed = await world.purchases.claim(USER, purchase.token)
    assert isinstance(claimed, Purchase)
    # The process died right after sending the create: the order exists, unanswered.
    account = world.sandbox.engine.account_of_key(world.key)
    world.sandbox.engine.create_order(account, "tg", _country(world))
    world.clock.now += timedelta(minutes=3)
    assert await a.round()
    assert not await b.round()  # a holds the lease
    chat = telegram.user(USER, first_name="Ann")
    await eventually(lambda: any(m.from_bot for m in chat.messages), what="the order's card")
    [card] = [m for m in chat.messages if m.from_bot]
    [order] = await world.store.active_orders_for_user(USER)
    assert order.card_message_id == card.message_id
    assert order.service_name in card.text


async def test_a_stopped_replica_hands_the_chores_over_at_once(
    world: World,  # noqa: F811
    fleet: tuple[FakeBotApi, FleetChores, FleetChores],
) -> None:
    _, a, b = fleet
    assert await a.round()
    assert not await b.round()
    await a.stop()
    assert RECONCILE_LEASE not in await world.store.live_leases()
    assert await b.round()
