"""The price confirmed is the most that is paid (sandbox, client, SQLite, a moved clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox import SandboxConfig
from bot.services.purchases import PRICE_FRESH, Bought, PriceRose, Quote
from bot.store import Purchase, PurchaseState

from .test_purchases import USER, World, _country, open_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, SandboxConfig(sms_delay=None), api_timeout=5.0) as world:
        yield world


async def _claimed(world: World, country: int) -> Purchase:
    quote = await world.purchases.quote(USER, "tg", country)
    assert isinstance(quote, Quote)
    claimed = await world.purchases.claim(USER, quote.purchase.token)
    assert isinstance(claimed, Purchase)
    return claimed


def _balance(world: World) -> int:
    return world.sandbox.engine.account_of_key(world.key).balance_cents


async def test_an_order_charged_more_is_cancelled_and_the_new_price_offered(world: World) -> None:
    country = _country(world)
    claimed = await _claimed(world, country)
    before = _balance(world)
    world.sandbox.set_price("tg", country, claimed.price_cents + 7)

    result = await world.purchases.create(claimed)

    assert isinstance(result, PriceRose)
    assert result.confirmed_cents == claimed.price_cents
    assert isinstance(result.quote, Quote)
    assert result.quote.offer.price_cents == claimed.price_cents + 7
    assert result.quote.purchase.token != claimed.token
    assert _balance(world) == before  # refunded in full
    [order] = world.sandbox.orders(world.key)
    assert order["status"] == "CANCELLED"
    stored = await world.store.get_order(order["id"])
    assert stored is not None
    assert stored.status == "CANCELLED"
    assert stored.final_notified  # no "your order ended" message: the new price is the news
    assert stored not in await world.store.active_orders()
    spent = await world.store.get_purchase(claimed.token)
    assert spent is not None
    assert spent.state is PurchaseState.DONE
    # The new price buys.
    again = await world.purchases.buy(USER, result.quote.purchase.token)
    assert isinstance(again, Bought)
    assert again.order.charged_cents == claimed.price_cents + 7


async def test_a_stale_confirmation_rereads_the_price_and_buys_nothing(world: World) -> None:
    country = _country(world)
    claimed = await _claimed(world, country)
    world.sandbox.set_price("tg", country, claimed.price_cents + 1)
    world.clock.now += PRICE_FRESH + timedelta(seconds=1)

    result = await world.purchases.create(claimed)

    assert isinstance(result, PriceRose)
    assert isinstance(result.quote, Quote)
    assert result.quote.offer.price_cents == claimed.price_cents + 1
    assert world.sandbox.orders(world.key) == []
    spent = await world.store.get_purchase(claimed.token)
    assert spent is not None
    assert spent.state is PurchaseState.FAILED


async def test_a_stale_confirmation_at_the_same_or_a_lower_price_buys(world: World) -> None:
    country = _country(world)
    claimed = await _claimed(world, country)
    world.sandbox.set_price("tg", country, claimed.price_cents - 1)
    world.clock.now += PRICE_FRESH + timedelta(seconds=1)
    result = await world.purchases.create(claimed)
    assert isinstance(result, Bought)
    assert result.order.charged_cents == claimed.price_cents - 1


async def test_a_fresh_confirmation_at_a_lower_price_buys(world: World) -> None:
    country = _country(world)
    claimed = await _claimed(world, country)
    world.sandbox.set_price("tg", country, 1)
    result = await world.purchases.create(claimed)
    assert isinstance(result, Bought)
    assert result.order.charged_cents == 1
