"""The countries offered instead of a sold-out one are chosen by price and delivery rate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.services.alerts import Alternatives
from bot.store import StoredOrder

from .shop_world import USER, World, world_at


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with world_at(tmp_path) as made:
        await made.link(USER)
        yield made


async def _history(world: World, country: int, delivered: int, silent: int) -> None:
    for n in range(delivered + silent):
        order = StoredOrder(
            id=f"ck-{country}-{n}",
            user_id=USER,
            key_fingerprint="f",
            service="tg",
            service_name="Telegram",
            country_id=str(country),
            country_slug="xx",
            phone="+1",
            status="COMPLETED",
            expires_at=None,
            charged_cents=10,
        )
        await world.store.save_order(order)
        await world.rates.count(order, timedelta(seconds=20) if n < delivered else None)


async def test_a_better_rate_at_or_below_the_price_comes_first_and_poor_ones_last(
    world: World,
) -> None:
    offers = world.offers()
    prices = {country: price for country, price, _ in offers}
    in_stock = [c for c in world.in_stock() if list(prices.values()).count(prices[c]) == 1]
    poor, good, sold_out = in_stock[0], in_stock[2], in_stock[4]
    await _history(world, poor, delivered=0, silent=5)
    await _history(world, good, delivered=5, silent=0)
    world.sandbox.set_stock("tg", sold_out, 0)

    found = await world.alerts.alternatives(USER, "tg", sold_out)

    assert isinstance(found, Alternatives)
    picked = [o.country_id for o in found.offers]
    assert picked[0] == good  # the best chance at or below the sold-out price
    others = [prices[c] for c in picked[1:]]  # then unrated ones, cheapest first
    assert others == sorted(others)
    assert all(price <= prices[sold_out] for price in others)
    assert poor not in picked  # rated poor: after every other within the price
    assert found.rates[str(good)].percent == 100
    assert found.rates[str(poor)].poor
