"""Browsing the shop: services (recent first, searchable) and a service's countries.

Searches are served from the shared catalogue cache, so typing costs no API request. A
country matches by its name in the user's language as well as the API's English name and
its ISO code, so "Малайзия", "malaysia" and "my" all find Malaysia.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.api import Service
from bot.i18n import get_translator
from bot.services.accounts import AccountService
from bot.services.catalog import Catalog, Offer
from bot.services.favourites import FavouriteOffer, FavouriteService
from bot.services.rates import DeliveryRates, Rate
from bot.store import Store, User


@dataclass(frozen=True, slots=True)
class Countries:
    """A service and its countries (filtered by the search, if any), and the delivery
    rates of those that have one (by country id as text)."""

    service: Service
    offers: list[Offer]
    rates: Mapping[str, Rate]


@dataclass(frozen=True, slots=True)
class ServiceMenu:
    """The service list (filtered by the search, if any) and the favourites shown above it."""

    services: list[Service]
    favourites: list[FavouriteOffer]


@dataclass(frozen=True, slots=True)
class ServiceGone:
    """The API no longer lists the service."""


def matches(query: str, *names: str) -> bool:
    """Case-insensitive substring search over any of ``names``."""
    needle = query.casefold()
    return any(needle in name.casefold() for name in names if name)


class BrowseService:
    """The catalogue as one user sees it."""

    def __init__(
        self,
        accounts: AccountService,
        catalog: Catalog,
        store: Store,
        rates: DeliveryRates,
        favourites: FavouriteService,
    ) -> None:
        self._accounts = accounts
        self._catalog = catalog
        self._store = store
        self._rates = rates
        self._favourites = favourites

    async def services(
        self, user_id: int, query: str | None = None, *, user: User | None = None
    ) -> list[Service]:
        """Every service, the user's recent ones first, then popular ones, then by stock.

        Args:
            user: The user's row as the caller has just read it (saves reading it again).

        Raises:
            NotLinkedError: no key linked (the catalogue is read with the user's key).
        """
        key = await self._accounts.key_for(user_id, user=user)
        recent = tuple(await self._store.recent_services(user_id))
        items = await self._catalog.services(key, recent)
        if query:
            items = [s for s in items if matches(query, s.name, s.slug, s.code)]
        return items

    async def menu(
        self,
        user_id: int,
        query: str | None = None,
        *,
        favourites: bool = False,
        user: User | None = None,
    ) -> ServiceMenu:
        """The chat's service list: :meth:`services`, with the user's favourites at today's
        price and stock when asked for (on the first page of the whole list).

        Args:
            user: As in :meth:`services`.

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the catalogue could not be read.
        """
        items = await self.services(user_id, query, user=user)
        on_top = await self._favourites.offers(user_id) if favourites else []
        return ServiceMenu(items, on_top)

    async def countries(
        self,
        user_id: int,
        service: str,
        language: str,
        query: str | None = None,
        *,
        sold_out: bool = False,
        user: User | None = None,
    ) -> Countries | ServiceGone:
        """The countries of ``service``, cheapest first (sold-out ones last when asked for).

        Args:
            user: As in :meth:`services`.

        Raises:
            NotLinkedError: no key linked.
        """
        key = await self._accounts.key_for(user_id, user=user)
        found = await self._catalog.service(key, service)
        if found is None:
            return ServiceGone()
        offers = await self._catalog.offers(key, service, sold_out=sold_out)
        if query:
            t = get_translator(language)
            offers = [
                o for o in offers if matches(query, t.country(o.slug, o.name), o.name, o.slug)
            ]
        return Countries(found, offers, await self._rates.for_service(service))
