"""Alternatives, alerts and the watcher against the sandbox, SQLite and the strict fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot import callbacks as cb
from bot.alerts_watcher import ALERTS_LEASE
from bot.api.limiter import KeyRateLimiter, RateLimits
from bot.fakebotapi import FakeUser
from bot.services.alerts import Alternatives, TooManyAlerts, UnknownCountry, Watching
from bot.services.browse import ServiceGone
from bot.store import AlertState, open_store
from tests.pg import fresh_database

from .shop_world import OTHER, USER, World, world_at


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with world_at(tmp_path) as made:
        await made.link(USER)
        await made.link(OTHER)
        yield made


def alerts_told(user: FakeUser) -> list[str]:
    return [m.text for m in user.messages if m.from_bot and "numbers in" in m.text]


async def watch_sold_out(world: World, user_id: int = USER) -> tuple[int, Watching]:
    """Sell out the cheapest country of Telegram and watch it."""
    country = world.in_stock()[0]
    world.sandbox.set_stock("tg", country, 0)
    outcome = await world.alerts.watch(user_id, "tg", country)
    assert isinstance(outcome, Watching)
    return country, outcome


async def test_alternatives_are_the_three_cheapest_with_stock(world: World) -> None:
    cheapest = world.in_stock()[0]
    world.sandbox.set_stock("tg", cheapest, 0)
    found = await world.alerts.alternatives(USER, "tg", cheapest)
    assert isinstance(found, Alternatives)
    assert found.service.code == "tg"
    assert found.place.country_id == cheapest
    assert [o.country_id for o in found.offers] == world.in_stock()[:3]
    assert all(o.count > 0 for o in found.offers)
    assert not found.watching
    await world.alerts.watch(USER, "tg", cheapest)
    again = await world.alerts.alternatives(USER, "tg", cheapest)
    assert isinstance(again, Alternatives)
    assert again.watching
    assert await world.alerts.alternatives(USER, "nope", 1) == ServiceGone()


async def test_alternatives_after_a_refused_purchase_are_the_owners_only(world: World) -> None:
    country = world.in_stock()[0]
    purchase = await world.store.offer_purchase(USER, "tg", "Telegram", str(country), "my", 10)
    found = await world.alerts.alternatives_after_refusal(USER, purchase.token)
    assert isinstance(found, Alternatives)
    assert found.place.country_id == country
    assert await world.alerts.alternatives_after_refusal(OTHER, purchase.token) == ServiceGone()


async def test_watch_once_list_cancel_and_cap(world: World) -> None:
    country, first = await watch_sold_out(world)
    assert first.new
    assert first.alert.service_name == "Telegram"
    again = await world.alerts.watch(USER, "tg", country)
    assert isinstance(again, Watching)
    assert not again.new
    assert again.alert.id == first.alert.id
    assert [a.id for a in await world.alerts.waiting(USER)] == [first.alert.id]
    assert not await world.alerts.cancel(OTHER, first.alert.id)
    assert await world.alerts.cancel(USER, first.alert.id)
    assert await world.alerts.waiting(USER) == []
    for other_country in [c for c, _, _ in world.offers()][:10]:
        assert isinstance(await world.alerts.watch(USER, "tg", other_country), Watching)
    assert await world.alerts.watch(USER, "wa", world.in_stock("wa")[0]) == TooManyAlerts(10)


async def test_forged_pairs_make_no_alert(world: World) -> None:
    assert await world.alerts.watch(USER, "no-such-service", 7) == ServiceGone()
    assert await world.alerts.watch(USER, "tg", 999_999) == UnknownCountry()
    assert await world.alerts.alternatives(USER, "tg", 999_999) == UnknownCountry()
    assert await world.alerts.waiting(USER) == []


async def test_fires_once_with_price_and_a_buy_button(world: World) -> None:
    country, watching = await watch_sold_out(world)
    watcher = world.watcher()
    assert await watcher.round() == 0  # still sold out: nothing to say
    world.sandbox.set_stock("tg", country, 77)
    world.ticks.now += 61
    assert await watcher.round() == 1
    user = world.telegram.user(USER, first_name="User1001")
    [message] = [m for m in user.messages if m.from_bot]
    price = {c: p for c, p, _ in world.offers()}[country]
    assert f"${price / 100:.2f}" in message.text
    assert "77 left" in message.text
    assert message.buttons == [[("Buy", cb.encode(cb.PickCountry("tg", country)))]]
    fired = await world.store.get_alert(watching.alert.id)
    assert fired is not None
    assert (fired.state, fired.price_cents) == (AlertState.SENT, price)
    # Later rounds, and a restarted watcher, never repeat it.
    world.ticks.now += 61
    assert await watcher.round() == 0
    assert await world.watcher().round() == 0
    assert len([m for m in user.messages if m.from_bot]) == 1
    assert await world.alerts.waiting(USER) == []
    world.telegram.assert_no_errors()


async def test_two_replicas_send_it_once(world: World) -> None:
    country, _ = await watch_sold_out(world)
    world.sandbox.set_stock("tg", country, 5)
    world.ticks.now += 61
    first, second = world.watcher("replica-a"), world.watcher("replica-b")
    sent = await asyncio.gather(first.round(), second.round(), first.round())
    assert sum(sent) == 1
    user = world.telegram.user(USER, first_name="User1001")
    assert len(alerts_told(user)) == 1


async def test_two_replicas_on_postgresql_send_it_once(tmp_path: Path) -> None:
    async with fresh_database() as url, world_at(tmp_path, url) as world:
        await world.link(USER)
        country, _ = await watch_sold_out(world)
        world.sandbox.set_stock("tg", country, 5)
        second_store = await open_store(url, tmp_path)
        try:
            replicas = [world, world.replica(second_store)]
            watchers = [r.watcher(f"replica-{n}") for n, r in enumerate(replicas)]
            for r in replicas:
                r.ticks.now += 61
            # Each believes it holds the job (an expired lease changing hands): the claim in
            # the database still lets only one of them send.
            for watcher in watchers:
                watcher._lease_ttl = timedelta(0)
            sent = await asyncio.gather(*(w.round() for w in watchers * 3))
        finally:
            await second_store.close()
        assert sum(sent) == 1
        assert len(alerts_told(world.telegram.user(USER, first_name="User1001"))) == 1


async def test_the_lease_keeps_the_job_on_one_replica_until_it_stops(world: World) -> None:
    country, _ = await watch_sold_out(world)
    first, second = world.watcher("replica-a"), world.watcher("replica-b")
    assert await first.round() == 0
    assert (await world.store.live_leases(ALERTS_LEASE))[ALERTS_LEASE] == "replica-a"
    world.sandbox.set_stock("tg", country, 5)
    world.ticks.now += 61
    assert await second.round() == 0  # not its job
    await first.stop()  # hands the lease back
    assert await second.round() == 1


async def test_cancelled_alert_stays_silent(world: World) -> None:
    country, watching = await watch_sold_out(world)
    assert await world.alerts.cancel(USER, watching.alert.id)
    world.sandbox.set_stock("tg", country, 5)
    world.ticks.now += 61
    assert await world.watcher().round() == 0
    assert alerts_told(world.telegram.user(USER, first_name="User1001")) == []


async def test_an_unreachable_user_is_told_when_back(world: World) -> None:
    country, watching = await watch_sold_out(world)
    user = world.telegram.user(USER, first_name="User1001")
    user.block()
    world.sandbox.set_stock("tg", country, 5)
    world.ticks.now += 61
    watcher = world.watcher()
    assert await watcher.round() == 0
    back = await world.store.get_alert(watching.alert.id)
    assert back is not None
    assert back.state is AlertState.ACTIVE
    user.unblock()
    await world.store.set_chat_active(USER, True)  # what the guard does when they write
    assert await watcher.round() == 1
    assert len(alerts_told(user)) == 1


async def test_prices_are_read_once_per_minute_shared_with_browsing(world: World) -> None:
    country, _ = await watch_sold_out(world)
    await world.alerts.watch(OTHER, "tg", country)
    reads = world.prices_reads()
    watcher = world.watcher()
    for _ in range(3):
        await watcher.round()
    # watch() just read Telegram's prices for everyone: the watcher reuses them.
    assert world.prices_reads() == reads
    world.ticks.now += 61
    for _ in range(3):
        await watcher.round()
    assert world.prices_reads() == reads + 1  # one read for two alerts and three rounds


async def test_reads_are_background_never_the_owners_foreground_budget(world: World) -> None:
    await watch_sold_out(world)
    world.ticks.now += 61  # the cache is cold: the watcher must read
    # Two reads per window with one kept for taps, and a clock that never moves: once one
    # slot is used, only interactive requests may take the other.
    world.api.limiter = KeyRateLimiter(
        RateLimits(reads=2, read_reserve=1, window=60.0), clock=lambda: 0.0
    )
    await world.accounts.account(USER)  # the user's own tap uses one slot
    reads = world.prices_reads()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await world.watcher().round()
    assert world.prices_reads() == reads  # it waited for background room, sent nothing
    await world.accounts.account(USER)  # the user still has their interactive slot


async def test_an_idle_watcher_only_reads(world: World) -> None:
    watcher = world.watcher()
    assert await watcher.round() == 0
    assert await world.store.live_leases(ALERTS_LEASE) == {}  # nothing waits: no lease taken
    await watch_sold_out(world)
    assert await watcher.round() == 0
    assert await world.store.live_leases(ALERTS_LEASE) == {ALERTS_LEASE: "replica-a"}
