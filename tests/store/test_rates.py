"""Delivery-rate counters: one increment per order, summed per country over a week."""

import asyncio
from datetime import UTC, date, datetime, timedelta

from bot.store import WAIT_BOUNDS, Store
from bot.store.rates import wait_bucket

from .conftest import Backend, make_order, order_of

DAY = datetime(2026, 5, 22, 8, 10, tzinfo=UTC)


async def test_an_order_is_counted_once(store: Store) -> None:
    await store.save_order(make_order("a"))
    assert await store.count_delivery("a", timedelta(seconds=40))
    assert not await store.count_delivery("a", timedelta(seconds=40))
    assert not await store.count_delivery("a", None)
    assert (await order_of(store, "a")).rate_counted
    [counts] = await store.delivery_counts("tg", date(2026, 5, 22))
    assert (counts.country_id, counts.orders, counts.delivered) == ("7", 1, 1)
    assert counts.waits[wait_bucket(40)] == 1
    assert sum(counts.waits) == 1


async def test_counters_add_up_per_country_and_keep_to_the_period(store: Store) -> None:
    orders = [
        ("a", "7", DAY, timedelta(seconds=10)),
        ("b", "7", DAY, None),
        ("c", "7", DAY - timedelta(days=1), timedelta(seconds=700)),
        ("d", "9", DAY, None),
        ("old", "7", DAY - timedelta(days=8), timedelta(seconds=5)),
    ]
    for order_id, country, created, wait in orders:
        await store.save_order(make_order(order_id, country_id=country, created_at=created))
        assert await store.count_delivery(order_id, wait)
    await store.save_order(make_order("other-service", service="wa"))
    await store.count_delivery("other-service", None)

    counts = {c.country_id: c for c in await store.delivery_counts("tg", date(2026, 5, 16))}
    assert set(counts) == {"7", "9"}
    assert (counts["7"].orders, counts["7"].delivered) == (3, 2)
    assert counts["7"].waits[0] == 1
    assert counts["7"].waits[len(WAIT_BOUNDS)] == 1
    assert (counts["9"].orders, counts["9"].delivered, sum(counts["9"].waits)) == (1, 0, 0)


async def test_an_unknown_order_is_not_counted(store: Store) -> None:
    assert not await store.count_delivery("nope", None)
    assert await store.delivery_counts("tg", date(2026, 1, 1)) == []


async def test_two_replicas_count_an_order_once(backend: Backend, store: Store) -> None:
    other = await backend.open()
    try:
        for n in range(10):
            await store.save_order(make_order(f"o{n}"))
        results = await asyncio.gather(
            *(
                s.count_delivery(f"o{n}", timedelta(seconds=20))
                for n in range(10)
                for s in (store, other)
            )
        )
        assert sum(results) == 10
        [counts] = await other.delivery_counts("tg", date(2026, 5, 22))
        assert (counts.orders, counts.delivered) == (10, 10)
    finally:
        await other.close()


def test_wait_buckets() -> None:
    assert wait_bucket(0) == 0
    assert wait_bucket(15) == 0
    assert wait_bucket(15.5) == 1
    assert wait_bucket(600) == len(WAIT_BOUNDS) - 1
    assert wait_bucket(10_000) == len(WAIT_BOUNDS)
