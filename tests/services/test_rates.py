"""Delivery rates from the store's counters, and the "best chance" ranking."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.services.catalog import Offer
from bot.services.rates import (
    LONGEST_WAIT,
    DeliveryRates,
    Rate,
    alternatives,
    best_chance,
    rate_of,
)
from bot.store import DeliveryCounts, Store, StoredOrder

USER = 1001
TODAY = date(2026, 5, 22)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.sqlite3")
    await opened.ensure_user(USER, "en")
    yield opened
    await opened.close()


async def settle(
    store: Store, n: int, country: str, wait: float | None, *, days_ago: int = 0
) -> None:
    """Record ``n`` orders of tg in ``country``, each delivered after ``wait`` s (or not)."""
    created = datetime(2026, 5, 22, 9, tzinfo=UTC) - timedelta(days=days_ago)
    for _ in range(n):
        order_id = f"o{country}-{days_ago}-{len(await store.active_orders())}"
        await store.save_order(
            StoredOrder(
                id=order_id,
                user_id=USER,
                key_fingerprint="f",
                service="tg",
                service_name="Telegram",
                country_id=country,
                country_slug="xx",
                phone="+1",
                status="WAITING",
                expires_at=None,
                charged_cents=10,
                created_at=created,
            )
        )
        await store.count_delivery(order_id, None if wait is None else timedelta(seconds=wait))


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counts(orders: int, delivered: int, waits: tuple[int, ...] = ()) -> DeliveryCounts:
    return DeliveryCounts("7", orders, delivered, waits or (delivered, *[0] * 9))


def test_a_rate_needs_five_orders() -> None:
    assert rate_of(counts(4, 4)) is None
    assert rate_of(counts(5, 4)) == Rate(80, 15, 5, poor=False)


def test_poor_below_half_and_no_wait_without_sms() -> None:
    assert rate_of(counts(5, 2)) == Rate(40, 15, 5, poor=True)
    assert rate_of(counts(6, 0)) == Rate(0, None, 6, poor=True)
    assert rate_of(counts(6, 3)) == Rate(50, 15, 6, poor=False)


def test_typical_wait_is_the_median_bucket() -> None:
    # Five deliveries: one within 15 s, two within 45 s, two later than 600 s.
    assert rate_of(counts(5, 5, (1, 0, 2, 0, 0, 0, 0, 0, 0, 2))).typical_seconds == 45  # type: ignore[union-attr]
    assert rate_of(counts(5, 5, (1, 0, 0, 0, 0, 0, 0, 0, 0, 4))).typical_seconds == LONGEST_WAIT  # type: ignore[union-attr]


def offer(country: int, price: int, name: str = "") -> Offer:
    return Offer(country, f"c{country}", name or f"C{country}", price, 10)


def test_best_chance_ranks_by_rate_then_price_with_unrated_before_poor() -> None:
    rates = {
        "1": Rate(90, 30, 10, poor=False),
        "2": Rate(90, 60, 8, poor=False),
        "3": Rate(99, 15, 5, poor=False),
        "4": Rate(20, None, 9, poor=True),
    }
    offers = [offer(1, 30), offer(2, 20), offer(3, 50), offer(4, 5), offer(5, 40), offer(6, 10)]
    ranked = [o.country_id for o in best_chance(offers, rates)]
    assert ranked == [3, 2, 1, 6, 5, 4]


def test_alternatives_weigh_price_and_rate() -> None:
    rates = {"1": Rate(95, 30, 10, poor=False), "4": Rate(10, None, 9, poor=True)}
    offers = [offer(1, 30), offer(2, 20), offer(3, 60), offer(4, 50), offer(5, 55)]
    # At or below the sold-out price (30): best chance first; then dearer ones, poor last.
    assert [o.country_id for o in alternatives(offers, rates, 30, 3)] == [1, 2, 5]
    assert [o.country_id for o in alternatives(offers, rates, 30, 5)] == [1, 2, 5, 3, 4]


async def test_rates_come_from_the_last_seven_days(store: Store) -> None:
    await settle(store, 4, "7", 20)
    await settle(store, 1, "7", None, days_ago=6)
    await settle(store, 9, "7", None, days_ago=7)  # too old
    await settle(store, 4, "9", 20)  # too few
    rates = DeliveryRates(store, today=lambda: TODAY)
    assert await rates.for_service("tg") == {"7": Rate(80, 30, 5, poor=False)}
    assert await rates.for_service("wa") == {}


async def test_rates_are_cached_briefly(store: Store) -> None:
    ticks = Ticks()
    rates = DeliveryRates(store, ttl=60, clock=ticks, today=lambda: TODAY)
    await settle(store, 5, "7", 20)
    first = await rates.for_service("tg")
    await settle(store, 5, "7", None)
    assert await rates.for_service("tg") is first
    ticks.now = 61
    assert (await rates.for_service("tg"))["7"] == Rate(50, 30, 10, poor=False)
