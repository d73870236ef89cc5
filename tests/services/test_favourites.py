"""Favourites and the top-up heads-up against the sandbox, the real client and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.services.favourites import Added, Full, Removed, Unknown
from bot.services.purchases import Bought, PurchaseService, Quote
from bot.store import StoredOrder

from .shop_world import OTHER, USER, World, world_at


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with world_at(tmp_path) as made:
        await made.link(USER)
        await made.link(OTHER)
        yield made


async def test_toggle_saves_then_forgets(world: World) -> None:
    country = world.in_stock()[0]
    assert await world.favourites.toggle(USER, "tg", country) == Added()
    assert await world.favourites.saved(OTHER) == []
    [saved] = await world.favourites.saved(USER)
    assert (saved.service, saved.service_name, saved.country_id) == ("tg", "Telegram", str(country))
    assert await world.favourites.toggle(USER, "tg", country) == Removed()
    assert await world.favourites.saved(USER) == []


async def test_unknown_pairs_are_not_saved(world: World) -> None:
    assert await world.favourites.toggle(USER, "no-such-service", 7) == Unknown()
    assert await world.favourites.toggle(USER, "tg", 999_999) == Unknown()
    assert await world.favourites.saved(USER) == []


async def test_at_most_ten(world: World) -> None:
    countries = [c for c, _, _ in world.offers()][:11]
    for country in countries[:10]:
        assert await world.favourites.toggle(USER, "tg", country) == Added()
    assert await world.favourites.toggle(USER, "tg", countries[10]) == Full(10)
    assert len(await world.favourites.saved(USER)) == 10
    # Removing one makes room again.
    assert await world.favourites.remove(USER, "tg", countries[0])
    assert await world.favourites.toggle(USER, "tg", countries[10]) == Added()


async def test_offers_show_todays_price_and_stock(world: World) -> None:
    first, second = world.in_stock()[:2]
    await world.favourites.toggle(USER, "tg", first)
    await world.favourites.toggle(USER, "wa", world.in_stock("wa")[0])
    await world.favourites.toggle(USER, "tg", second)
    world.sandbox.set_stock("tg", second, 0)
    world.ticks.now += 61  # the shared prices cache has expired
    items = await world.favourites.offers(USER)
    assert [(i.favourite.service, i.favourite.country_id) for i in items] == [
        ("tg", str(first)),
        ("wa", str(world.in_stock("wa")[0])),
        ("tg", str(second)),
    ]
    prices = {c: (p, s) for c, p, s in world.offers()}
    assert items[0].offer is not None
    assert (items[0].offer.price_cents, items[0].offer.count) == prices[first]
    assert items[0].in_stock
    assert items[2].offer is not None
    assert items[2].offer.count == 0
    assert not items[2].in_stock
    assert await world.favourites.offers(OTHER) == []


async def test_order_card_star_uses_the_users_own_order(world: World) -> None:
    country = world.in_stock()[0]
    order = StoredOrder(
        id="ck-fav-1",
        user_id=USER,
        key_fingerprint="f",
        service="tg",
        service_name="Telegram",
        country_id=str(country),
        country_slug="my",
        phone="+60123",
        status="WAITING",
        expires_at=None,
        charged_cents=41,
    )
    await world.store.save_order(order)
    assert await world.favourites.toggle_order(OTHER, order.id) == Unknown()
    assert await world.favourites.toggle_order(USER, order.id) == Added()
    assert [(f.service, f.country_id) for f in await world.favourites.saved(USER)] == [
        ("tg", str(country))
    ]
    assert await world.favourites.toggle_order(USER, order.id) == Removed()
    assert await world.favourites.toggle_order(USER, "ck-unknown") == Unknown()


async def _buy(world: World, country: int) -> StoredOrder:
    purchases = PurchaseService(
        world.api, world.store, world.accounts, world.catalog, rates=world.rates
    )
    quote = await purchases.quote(USER, "tg", country)
    assert isinstance(quote, Quote)
    bought = await purchases.buy(USER, quote.purchase.token)
    assert isinstance(bought, Bought)
    return bought.order


async def test_topup_heads_up_when_the_next_one_is_unaffordable_once_a_day(
    world: World,
) -> None:
    country = world.in_stock()[0]
    price = {c: p for c, p, _ in world.offers()}[country]
    world.sandbox.set_balance(world.keys[USER], price * 2 + price // 2)
    first = await _buy(world, country)
    assert await world.topup.after_purchase(first) is None  # 1.5 prices left: fine
    second = await _buy(world, country)
    low = await world.topup.after_purchase(second)
    assert low is not None
    assert (low.balance_cents, low.price_cents) == (price // 2, second.charged_cents)
    # Once per day: the next low purchase says nothing, and costs no balance read.
    world.sandbox.set_balance(world.keys[USER], price)
    third = await _buy(world, country)
    reads = len(world.sandbox.request_log)
    assert await world.topup.after_purchase(third) is None
    assert len(world.sandbox.request_log) == reads
