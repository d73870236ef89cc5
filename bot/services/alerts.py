"""Sold out is not a dead end: alternatives, and "notify me when available".

When a country has no numbers (tapped while sold out, or ``NO_NUMBERS`` at buy time) the
user is offered the cheapest countries that do have stock for the service, and an alert.
Alerts live in the database (``ALERT_HOURS``, at most :data:`ALERTS_LIMIT` per user) and
are fired by :class:`bot.alerts_watcher.AlertWatcher`, which reads the catalogue the bot
already caches for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from bot.api import ApiKey, Service
from bot.services.accounts import AccountService
from bot.services.browse import ServiceGone
from bot.services.catalog import Catalog, Offer
from bot.services.rates import NO_RATES, DeliveryRates, Rate, alternatives
from bot.store import Alert, Store

ALERTS_LIMIT: Final = 10
ALTERNATIVES: Final = 3
"""How many in-stock countries are offered instead of a sold-out one."""


@dataclass(frozen=True, slots=True)
class Place:
    """The sold-out country, as far as the catalogue still knows it."""

    country_id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Alternatives:
    """What to offer instead of a sold-out country.

    Attributes:
        service: The service wanted.
        place: The sold-out country.
        offers: Countries with stock chosen by price and delivery rate (at most
            :data:`ALTERNATIVES`; see :func:`bot.services.rates.alternatives`).
        watching: The user already has an alert for this service and country.
        rates: The delivery rates of the service's rated countries.
    """

    service: Service
    place: Place
    offers: list[Offer]
    watching: bool
    rates: Mapping[str, Rate] = field(default_factory=lambda: NO_RATES)


@dataclass(frozen=True, slots=True)
class Watching:
    """An alert watches the pair; ``new`` is False if it did already."""

    alert: Alert
    new: bool


@dataclass(frozen=True, slots=True)
class TooManyAlerts:
    """No alert made: the user has ``limit`` waiting already."""

    limit: int


@dataclass(frozen=True, slots=True)
class UnknownCountry:
    """The API knows no such country (forged or ancient callback data)."""


WatchOutcome = Watching | TooManyAlerts | ServiceGone | UnknownCountry


@dataclass(frozen=True, slots=True)
class CancelledInList:
    """✕ in ``/alerts``: whether the alert was cancelled (False: not the user's, or no
    longer waiting), and the alerts still waiting, to redraw the list."""

    cancelled: bool
    waiting: list[Alert]


class AlertService:
    """Alternatives to a sold-out country, and the user's back-in-stock alerts."""

    def __init__(
        self,
        accounts: AccountService,
        catalog: Catalog,
        store: Store,
        *,
        rates: DeliveryRates,
        lifetime: timedelta,
        limit: int = ALERTS_LIMIT,
    ) -> None:
        self._accounts = accounts
        self._catalog = catalog
        self._store = store
        self._rates = rates
        self.lifetime = lifetime
        self.limit = limit

    async def alternatives(
        self, user_id: int, service: str, country_id: int
    ) -> Alternatives | ServiceGone | UnknownCountry:
        """Countries with stock for ``service`` other than ``country_id``, by price and rate.

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the catalogue could not be read.
        """
        key = await self._accounts.key_for(user_id)
        found = await self._catalog.service(key, service)
        if found is None:
            return ServiceGone()
        offers = await self._catalog.offers(key, service, sold_out=True)
        place = await self._place(key, offers, country_id)
        if place is None:
            return UnknownCountry()
        others = [o for o in offers if o.count > 0 and o.country_id != country_id]
        gone = next((o for o in offers if o.country_id == country_id), None)
        # Unpriced (the API no longer lists it): the cheapest in stock is the reference.
        price = gone.price_cents if gone else min((o.price_cents for o in others), default=0)
        rates = await self._rates.for_service(service)
        picked = alternatives(others, rates, price, ALTERNATIVES)
        watching = any(
            a.service == service and a.country_id == str(country_id)
            for a in await self._store.user_alerts(user_id)
        )
        return Alternatives(found, place, picked, watching, rates)

    async def alternatives_after_refusal(
        self, user_id: int, token: str
    ) -> Alternatives | ServiceGone | UnknownCountry:
        """Alternatives for the purchase of ``token`` that was refused with ``NO_NUMBERS``.

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the catalogue could not be read.
        """
        purchase = await self._store.get_purchase(token)
        if purchase is None or purchase.user_id != user_id or not purchase.country_id.isdigit():
            return ServiceGone()
        return await self.alternatives(user_id, purchase.service, int(purchase.country_id))

    async def _place(self, key: ApiKey, offers: list[Offer], country_id: int) -> Place | None:
        """The country: from its offer, else from the (cached) country list; None if the API
        knows no such country (forged callback data)."""
        offer = next((o for o in offers if o.country_id == country_id), None)
        if offer is not None:
            return Place(country_id, offer.slug, offer.name)
        country = (await self._catalog.countries(key)).get(country_id)
        if country is None:
            return None
        return Place(country_id, country.slug, country.name)

    async def watch(self, user_id: int, service: str, country_id: int) -> WatchOutcome:
        """ "Notify me when available": an alert for (service, country) for ``lifetime``.


        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the catalogue could not be read.
        """
        key = await self._accounts.key_for(user_id)
        found = await self._catalog.service(key, service)
        if found is None:
            return ServiceGone()
        offers = await self._catalog.offers(key, service, sold_out=True)
        place = await self._place(key, offers, country_id)
        if place is None:
            return UnknownCountry()
        alert, new = await self._store.add_alert(
            user_id,
            service,
            found.name,
            str(country_id),
            place.slug,
            lifetime=self.lifetime,
            limit=self.limit,
        )
        if alert is None:
            return TooManyAlerts(self.limit)
        return Watching(alert, new)

    async def waiting(self, user_id: int) -> list[Alert]:
        """The user's alerts still waiting, oldest first (``/alerts``)."""
        return await self._store.user_alerts(user_id)

    async def cancel(self, user_id: int, alert_id: str) -> bool:
        """Cancel one of the user's waiting alerts; False if not theirs or no longer waiting."""
        return await self._store.cancel_alert(user_id, alert_id)

    async def cancel_and_list(self, user_id: int, alert_id: str) -> CancelledInList:
        """:meth:`cancel`, then :meth:`waiting`."""
        cancelled = await self.cancel(user_id, alert_id)
        return CancelledInList(cancelled, await self.waiting(user_id))
