"""Delivery rates: how often a country's numbers for a service got an SMS, and how fast.

The figures come from the orders this deployment has seen (all its users, the last
:data:`WINDOW_DAYS` days), as counters the store keeps per service, country and day
(:class:`bot.store.rates.RatesRepository`): reading them never scans order history. A
country is rated only from :data:`MIN_ORDERS` orders on, and nothing about any one user or
order is ever shown, only the counts.

"Best chance" (:func:`best_chance`) ranks countries by rate, then price; the alternatives
to a sold-out country (:func:`alternatives`) and an automatic replacement use it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Final

from bot.services.catalog import Offer
from bot.store import WAIT_BOUNDS, DeliveryCounts, Store, StoredOrder

__all__ = [
    "LONGEST_WAIT",
    "MIN_ORDERS",
    "NO_RATES",
    "POOR_BELOW",
    "WINDOW_DAYS",
    "DeliveryRates",
    "Rate",
    "alternatives",
    "best_chance",
    "rate_of",
]

WINDOW_DAYS: Final = 7
"""Rates cover the orders created today and the six days before (UTC)."""
MIN_ORDERS: Final = 5
"""A country is rated once it has this many counted orders in the window."""
POOR_BELOW: Final = 50
"""A rate under this percentage is poor: the country is marked, and ranked last."""
LONGEST_WAIT: Final = 20 * 60
"""The typical wait shown when most SMS came later than the histogram's last bound."""
_MAX_CACHED: Final = 1024  # services whose rates are kept (the API lists about 700)


@dataclass(frozen=True, slots=True)
class Rate:
    """A country's delivery rate for one service.

    Attributes:
        percent: Share of the counted orders that got an SMS, 0–100 (rounded).
        typical_seconds: The median wait for the first SMS, as the upper bound of its
            histogram bucket ("usually within …"); None when no order got one.
        orders: How many orders it is based on (at least :data:`MIN_ORDERS`).
        poor: ``percent`` is under :data:`POOR_BELOW`.
    """

    percent: int
    typical_seconds: int | None
    orders: int
    poor: bool


NO_RATES: Final[Mapping[str, Rate]] = MappingProxyType({})
"""No country rated (yet)."""


def rate_of(counts: DeliveryCounts) -> Rate | None:
    """The rate shown for ``counts``; None below :data:`MIN_ORDERS` orders."""
    if counts.orders < MIN_ORDERS:
        return None
    percent = min(100, math.floor(100 * counts.delivered / counts.orders + 0.5))
    typical = None
    if counts.delivered:
        half, seen = (counts.delivered + 1) // 2, 0
        for bucket, count in enumerate(counts.waits):
            seen += count
            if seen >= half:
                typical = WAIT_BOUNDS[bucket] if bucket < len(WAIT_BOUNDS) else LONGEST_WAIT
                break
    return Rate(percent, typical, counts.orders, percent < POOR_BELOW)


def _chance(offer: Offer, rates: Mapping[str, Rate]) -> tuple[int, int, int, str]:
    """Rated countries first (best rate first), then unrated ones, then poor ones; each
    group cheapest first."""
    rate = rates.get(str(offer.country_id))
    if rate is None:
        group, percent = 1, 0
    else:
        group, percent = (2 if rate.poor else 0), rate.percent
    return (group, -percent, offer.price_cents, offer.name)


def best_chance(offers: Iterable[Offer], rates: Mapping[str, Rate]) -> list[Offer]:
    """``offers`` in "best chance" order: by rate (unrated between good and poor), then
    price. Pure: the same input always gives the same order."""
    return sorted(offers, key=lambda offer: _chance(offer, rates))


def alternatives(
    offers: Iterable[Offer], rates: Mapping[str, Rate], price_cents: int, limit: int
) -> list[Offer]:
    """Up to ``limit`` countries to offer instead of one at ``price_cents``, by price and
    rate: those at or below that price by best chance, then dearer ones cheapest first
    (poor ones after the rest)."""
    candidates = list(offers)
    within = best_chance((o for o in candidates if o.price_cents <= price_cents), rates)
    dearer = sorted(
        (o for o in candidates if o.price_cents > price_cents),
        key=lambda o: (_chance(o, rates)[0] == 2, o.price_cents, o.name),
    )
    return (within + dearer)[:limit]


class DeliveryRates:
    """Every country's rate for a service, cached briefly for everyone.

    Args:
        store: Where the counters are.
        ttl: Seconds a service's rates are reused (the counters move once per order).
        clock: Monotonic clock for the cache, injectable for tests.
        today: The current UTC day, injectable for tests.
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._today = today
        self._cache: dict[str, tuple[float, Mapping[str, Rate]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def count(self, order: StoredOrder, first_sms_after: timedelta | None) -> bool:
        """Count ``order`` in its country's rate, once (see ``Store.count_delivery``); this
        process shows the new rate at once, other replicas within ``ttl``."""
        counted = await self._store.count_delivery(order.id, first_sms_after)
        if counted:
            self._cache.pop(order.service, None)
        return counted

    async def for_service(self, service: str) -> Mapping[str, Rate]:
        """The rated countries of ``service``, by the API's country id as text."""
        hit = self._cache.get(service)
        if hit and hit[0] > self._clock():
            return hit[1]
        async with self._locks.setdefault(service, asyncio.Lock()):
            hit = self._cache.get(service)
            if hit and hit[0] > self._clock():
                return hit[1]
            since = self._today() - timedelta(days=WINDOW_DAYS - 1)
            rates = {
                counts.country_id: rate
                for counts in await self._store.delivery_counts(service, since)
                if (rate := rate_of(counts)) is not None
            }
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[service] = (self._clock() + self._ttl, rates)
            return rates
