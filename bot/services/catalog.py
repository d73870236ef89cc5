"""The service/country/price catalogue, cached for everyone.

The catalogue is the same for every user and large (hundreds of services, up to ~190
countries each), so it is read once per time-to-live with whichever user's key asks first,
and page turns and searches are served from memory: they never cost a user's rate budget.
Concurrent misses share one request (single flight).

Its state is bounded whatever is asked of it: a service code the cached service list does
not hold is answered "no offers" without a request and without leaving anything behind;
cached price lists are kept for at most ``max_prices`` services (least recently used go
first), and a load's lock lives only while someone waits for that load.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.api import ApiKey, Country, JiemaClient, Price, Priority, Service

_MAX_MEMO = 1024  # sorted views kept (one per distinct "recent" tuple, one per service)

# Shown first, in this order, when the user has no recent services: the ones most people buy.
POPULAR = ("tg", "wa", "go", "fb", "ig", "tw", "lf", "ds", "mm", "am", "oi", "vi", "wb", "ub")


@dataclass(frozen=True, slots=True)
class Offer:
    """A country's price and stock for a service (``count == 0``: sold out)."""

    country_id: int
    slug: str
    name: str
    price_cents: int
    count: int


@dataclass(slots=True)
class _Flight:
    """One load under way: its lock, and how many callers hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Catalog:
    """Cached reads of ``/v1/services``, ``/v1/countries`` and ``/v1/prices``.

    Args:
        api: The API client.
        services_ttl: Seconds a services list is reused (the API caches it ~5 min itself).
        countries_ttl: Seconds the country list is reused.
        prices_ttl: Seconds one service's prices and stock are reused.
        max_prices: Services whose prices are kept at most (the API lists ~700).
        clock: Monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        api: JiemaClient,
        *,
        services_ttl: float = 300.0,
        countries_ttl: float = 3600.0,
        prices_ttl: float = 60.0,
        max_prices: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._ttl = {"services": services_ttl, "countries": countries_ttl, "prices": prices_ttl}
        self._clock = clock
        self._max_entries = max_prices + 2  # and the service and country lists
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        # Sorted views of a cached list, reused while that list is the cached one (sorting
        # 700 services on every page turn was measured in bench.throughput).
        self._ranked: dict[tuple[str, ...], tuple[list[Service], list[Service]]] = {}
        self._by_code: tuple[list[Service] | None, dict[str, Service]] = (None, {})
        self._offers: dict[str, tuple[Any, list[Country], list[Offer]]] = {}

    def size(self) -> int:
        """Entries held: cached lists, sorted views and loads under way (for tests)."""
        return len(self._cache) + len(self._flights) + len(self._ranked) + len(self._offers)

    def _hit(self, name: str) -> tuple[bool, Any]:
        hit = self._cache.get(name)
        if hit is None or hit[0] <= self._clock():
            return False, None
        self._cache.move_to_end(name)
        return True, hit[1]

    @asynccontextmanager
    async def _single_flight(self, name: str) -> AsyncIterator[None]:
        flight = self._flights.get(name)
        if flight is None:
            flight = self._flights[name] = _Flight()
        flight.users += 1
        try:
            async with flight.lock:
                yield
        finally:
            flight.users -= 1
            if flight.users == 0:
                del self._flights[name]

    async def _cached(self, name: str, kind: str, load: Callable[[], Awaitable[Any]]) -> Any:
        found, value = self._hit(name)
        if found:
            return value
        async with self._single_flight(name):
            found, value = self._hit(name)
            if found:
                return value
            value = await load()
            self._cache[name] = (self._clock() + self._ttl[kind], value)
            self._cache.move_to_end(name)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
            return value

    async def _service_list(self, key: ApiKey) -> list[Service]:
        return await self._cached("services", "services", lambda: self._api.services(key))

    async def services(self, key: ApiKey, recent: tuple[str, ...] = ()) -> list[Service]:
        """Every service: ``recent`` first, then popular ones, then by stock."""
        items = await self._service_list(key)
        memo = self._ranked.get(recent)
        if memo is None or memo[0] is not items:
            rank: dict[str, int] = {}
            for code in (*recent, *POPULAR):
                rank.setdefault(code, len(rank))
            ranked = sorted(
                items, key=lambda s: (rank.get(s.code, len(rank)), -s.total_count, s.name)
            )
            if len(self._ranked) >= _MAX_MEMO:
                self._ranked.clear()
            memo = self._ranked[recent] = (items, ranked)
        return list(memo[1])

    async def service(self, key: ApiKey, code: str) -> Service | None:
        """One service by code, or None if the API does not list it."""
        items = await self._service_list(key)
        if self._by_code[0] is not items:
            self._by_code = (items, {s.code: s for s in reversed(await self.services(key))})
        return self._by_code[1].get(code)

    async def _country_list(
        self, key: ApiKey, priority: Priority = Priority.INTERACTIVE
    ) -> list[Country]:
        return await self._cached(
            "countries", "countries", lambda: self._api.countries(key, priority=priority)
        )

    async def countries(self, key: ApiKey) -> dict[int, Country]:
        """Countries by the API's numeric id."""
        return {country.id: country for country in await self._country_list(key)}

    async def offers(
        self,
        key: ApiKey,
        service: str,
        *,
        sold_out: bool = False,
        priority: Priority = Priority.INTERACTIVE,
    ) -> list[Offer]:
        """Countries for ``service``, cheapest first; with ``sold_out``, the countries without
        stock follow (marked by ``count == 0``), cheapest first too.

        ``priority`` is that of a read on a cache miss (the alert watcher's are background).
        A service the API does not list has none, and costs no request.
        """
        if await self.service(key, service) is None:
            return []
        prices = await self._cached(
            f"prices:{service}",
            "prices",
            lambda: self._api.prices(key, service, priority=priority),
        )
        country_list = await self._country_list(key, priority)
        memo = self._offers.get(service)
        if memo is None or memo[0] is not prices or memo[1] is not country_list:
            memo = (prices, country_list, self._rank_offers(prices, country_list))
            if len(self._offers) >= _MAX_MEMO:
                self._offers.clear()
            self._offers[service] = memo
        ranked = memo[2]
        return list(ranked) if sold_out else [o for o in ranked if o.count > 0]

    @staticmethod
    def _rank_offers(prices: list[Price], country_list: list[Country]) -> list[Offer]:
        countries = {country.id: country for country in country_list}
        offers = []
        for price in prices:
            country = countries.get(price.country_id)
            slug = price.country_slug or (country.slug if country else "")
            name = country.name if country else slug.upper() or str(price.country_id)
            count = max(0, price.count)
            offers.append(Offer(price.country_id, slug, name, price.price_cents, count))
        offers.sort(key=lambda o: (o.count <= 0, o.price_cents, -o.count, o.name))
        return offers

    async def offer(self, key: ApiKey, service: str, country_id: int) -> Offer | None:
        """The current offer for one country, or None when it has no stock (or no such)."""
        return next(
            (o for o in await self.offers(key, service) if o.country_id == country_id), None
        )

    def forget_prices(self, service: str) -> None:
        """Drop one service's cached prices (after a ``NO_NUMBERS``, stock is stale)."""
        self._cache.pop(f"prices:{service}", None)
