"""Favourites: service + country pairs a user buys again, one tap from ``/buy``.

A favourite is toggled with ★ on the confirmation and on the order card, listed first in
``/buy`` at the current price and stock (from the shared catalogue cache), and listed and
removed with ``/favourites``. At most :data:`FAVOURITES_LIMIT` per user, checked in SQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from bot.services.accounts import AccountService
from bot.services.catalog import Catalog, Offer
from bot.store import Favourite, Store

FAVOURITES_LIMIT: Final = 10


@dataclass(frozen=True, slots=True)
class Added:
    """Saved as a favourite."""


@dataclass(frozen=True, slots=True)
class Removed:
    """No longer a favourite."""


@dataclass(frozen=True, slots=True)
class Full:
    """Not saved: the user already has ``limit`` favourites."""

    limit: int


@dataclass(frozen=True, slots=True)
class Unknown:
    """The service, country or order is not known (or not the user's): nothing changed."""


ToggleOutcome = Added | Removed | Full | Unknown


@dataclass(frozen=True, slots=True)
class FavouriteOffer:
    """A favourite with what the catalogue offers for it now.

    ``offer`` is None when the API no longer prices the pair; ``offer.count == 0``: sold out.
    """

    favourite: Favourite
    offer: Offer | None

    @property
    def in_stock(self) -> bool:
        return self.offer is not None and self.offer.count > 0


class FavouriteService:
    """Favourites of one user at a time; every call checks ownership in SQL."""

    def __init__(
        self,
        accounts: AccountService,
        catalog: Catalog,
        store: Store,
        *,
        limit: int = FAVOURITES_LIMIT,
    ) -> None:
        self._accounts = accounts
        self._catalog = catalog
        self._store = store
        self.limit = limit

    async def toggle(self, user_id: int, service: str, country_id: int) -> ToggleOutcome:
        """★ on a confirmation: save the pair, or forget it if it is saved already.

        Raises:
            NotLinkedError: no key linked (names are read from the catalogue).
            bot.api.errors.JiemaError: the catalogue could not be read.
        """
        if await self._store.remove_favourite(user_id, service, str(country_id)):
            return Removed()
        key = await self._accounts.key_for(user_id)
        found = await self._catalog.service(key, service)
        if found is None:
            return Unknown()
        offers = await self._catalog.offers(key, service, sold_out=True)
        offer = next((o for o in offers if o.country_id == country_id), None)
        if offer is None:
            return Unknown()
        return await self._add(user_id, service, found.name, str(country_id), offer.slug)

    async def toggle_order(self, user_id: int, order_id: str) -> ToggleOutcome:
        """★ on an order card: the order's service and country (the user's orders only)."""
        order = await self._store.get_user_order(user_id, order_id)
        if order is None or not order.country_id.isdigit():
            return Unknown()
        if await self._store.remove_favourite(user_id, order.service, order.country_id):
            return Removed()
        return await self._add(
            user_id, order.service, order.service_name, order.country_id, order.country_slug
        )

    async def _add(
        self, user_id: int, service: str, name: str, country_id: str, slug: str
    ) -> ToggleOutcome:
        added = await self._store.add_favourite(
            user_id, service, name, country_id, slug, limit=self.limit
        )
        return Full(self.limit) if added == "full" else Added()

    async def remove(self, user_id: int, service: str, country_id: int) -> bool:
        """Forget one favourite (``/favourites``); False if the user did not have it."""
        return await self._store.remove_favourite(user_id, service, str(country_id))

    async def remove_and_list(
        self, user_id: int, service: str, country_id: int
    ) -> list[FavouriteOffer]:
        """:meth:`remove`, then the favourites left at today's price and stock (:meth:`offers`).

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the catalogue could not be read.
        """
        await self.remove(user_id, service, country_id)
        return await self.offers(user_id)

    async def saved(self, user_id: int) -> list[Favourite]:
        """The user's favourites as stored, oldest first (no API read)."""
        return await self._store.favourites(user_id)

    async def offers(self, user_id: int) -> list[FavouriteOffer]:
        """The user's favourites with today's price and stock, oldest first.

        One catalogue read per distinct service, shared with everyone browsing it (cached).

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the catalogue could not be read.
        """
        saved = await self._store.favourites(user_id)
        if not saved:
            return []
        key = await self._accounts.key_for(user_id)
        services = sorted({f.service for f in saved})
        listed = await asyncio.gather(
            *(self._catalog.offers(key, s, sold_out=True) for s in services)
        )
        by_pair = {
            (service, str(offer.country_id)): offer
            for service, offers in zip(services, listed, strict=True)
            for offer in offers
        }
        return [FavouriteOffer(f, by_pair.get((f.service, f.country_id))) for f in saved]
