"""The Mini App's use cases, composed from the chat's services (no Telegram, no HTTP).

Every HTTP handler of the page calls exactly one method here. The methods only combine the
services the chat uses (the same quote/claim/create path, the same ownership checks, the
same tracker applying cancels and second SMS), so the page and the chat can never disagree
about money or orders. Results are plain data (view models carrying the decisions: what the
user may do next with an order, whether a quote is affordable); rendering to JSON is the
Mini App's job (:mod:`bot.webapp`), which reaches the store and the API only through here.

:mod:`bot.webapp` depends on the services alone: the records it renders come from
:mod:`bot.services.models`, the failures it maps from :mod:`bot.services.errors`, and
:func:`~bot.api.limiter.waiting_at_most`, under which the page's requests wait a bounded
time for an API slot, is re-exported below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.api import Account, Service
from bot.api.errors import JiemaError
from bot.api.limiter import waiting_at_most
from bot.i18n import negotiate
from bot.services.accounts import AccountService, KeyUnreadableError, NotLinkedError
from bot.services.after_purchase import AfterPurchaseService, SoldOut
from bot.services.alerts import AlertService, Alternatives, WatchOutcome
from bot.services.browse import BrowseService, Countries, ServiceGone
from bot.services.favourites import FavouriteOffer, FavouriteService, ToggleOutcome, Unknown
from bot.services.live import End, Listener, LiveOrders, NotYoursError, OrderState, StreamsFull
from bot.services.orders import Acted, Action, ActionRefused, ActOutcome, History, OrderService
from bot.services.purchases import (
    AlreadyUsed,
    OfferGone,
    PriceRose,
    PurchaseService,
    Quote,
    Refused,
    Unconfirmed,
)
from bot.services.replacement import ReplacementService
from bot.services.topup import RunningLow
from bot.services.users import UserService
from bot.store import Alert, StoredOrder
from bot.webapp.auth import WebAppUser

__all__ = [
    "End",
    "Listener",
    "LiveOrders",
    "MiniApp",
    "NotYoursError",
    "OfferGoneError",
    "OrderState",
    "Profile",
    "Purchased",
    "RunningLow",
    "Services",
    "StreamsFull",
    "waiting_at_most",
]


class Services(Protocol):
    """What the Mini App needs from the process's service container (:mod:`bot.core`)."""

    @property
    def users(self) -> UserService: ...
    @property
    def accounts(self) -> AccountService: ...
    @property
    def browse(self) -> BrowseService: ...
    @property
    def purchases(self) -> PurchaseService: ...
    @property
    def orders(self) -> OrderService: ...
    @property
    def favourites(self) -> FavouriteService: ...
    @property
    def alerts(self) -> AlertService: ...
    @property
    def replacement(self) -> ReplacementService: ...
    @property
    def after_purchase(self) -> AfterPurchaseService: ...


class OfferGoneError(Exception):
    """The service or country is not offered any more."""


@dataclass(frozen=True, slots=True)
class Profile:
    """Who opened the page: their language, and their account when a key is linked."""

    user: WebAppUser
    language: str
    linked: bool
    account: Account | None


@dataclass(frozen=True, slots=True)
class Purchased:
    """A purchase went through: the new order, and the step after it (the heads-up when the
    balance left no longer covers its price; the chat's card is posted silently)."""

    state: OrderState
    running_low: RunningLow | None


BuyOutcome = Purchased | AlreadyUsed | Unconfirmed | PriceRose


class MiniApp:
    """Use cases of the page for one process; see the module docstring."""

    def __init__(self, services: Services, live: LiveOrders | None = None) -> None:
        self._s = services
        self.live = live or LiveOrders(services.orders)
        """The live streams: one watcher per followed order (see :mod:`bot.services.live`)."""

    async def language(self, user: WebAppUser) -> str:
        """The user's stored language (their /language choice), else negotiated."""
        profile, _ = await self._s.users.enter(user.id, user.language_code, writes=False)
        return profile.language or negotiate(user.language_code)

    async def profile(self, user: WebAppUser) -> Profile:
        """Language, and the balance read fresh when a key is linked.

        A linked user whose balance cannot be read now (API down) still counts as linked.
        """
        language = await self.language(user)
        try:
            account = await self._s.accounts.account(user.id)
        except KeyUnreadableError:
            account = None
        except NotLinkedError:
            return Profile(user, language, linked=False, account=None)
        except JiemaError:
            account = None
        return Profile(user, language, linked=True, account=account)

    async def catalogue(self, user_id: int) -> list[Service]:
        """Every service, ranked as the chat ranks them (recent, popular, then stock)."""
        return await self._s.browse.services(user_id)

    async def countries(self, user_id: int, service: str) -> Countries:
        """A service and every country pricing it, sold-out ones last (``count`` 0), with
        their delivery rates.

        Raises:
            OfferGoneError: the service is not listed.
        """
        found = await self._s.browse.countries(user_id, service, "en", sold_out=True)
        if isinstance(found, ServiceGone):
            raise OfferGoneError
        return found

    async def quote(self, user_id: int, service: str, country_id: int) -> Quote:
        """A single-use purchase token, price and balance: the chat's confirmation.

        Raises:
            OfferGoneError: no stock there any more.
        """
        quote = await self._s.purchases.quote(user_id, service, country_id)
        if isinstance(quote, OfferGone):
            raise OfferGoneError
        return quote

    async def buy(self, user_id: int, token: str) -> BuyOutcome:
        """Spend the token and create the order exactly once, as the chat's Buy does.

        Raises:
            bot.api.errors.JiemaError: the API refused (``INSUFFICIENT``, ``NO_NUMBERS``, …).
        """
        result = await self._s.after_purchase.buy(user_id, token)
        if isinstance(result, Refused):
            raise result.error
        if isinstance(result, SoldOut):  # not asked for: the page shows its own alternatives
            raise result.refused.error
        if isinstance(result, AlreadyUsed | Unconfirmed | PriceRose):
            return result
        return Purchased(await self._state(result.order), result.running_low)

    async def order(self, user_id: int, order_id: str) -> OrderState:
        """The user's order; one the bot does not track yet is adopted if the API says so.

        Raises:
            NotYoursError: unknown, or another user's.
        """
        stored = await self._s.orders.get(user_id, order_id)
        if stored is not None:
            return await self._state(stored)
        return await self._acted(await self._s.orders.act(user_id, order_id, Action.VIEW))

    async def cancel(self, user_id: int, order_id: str) -> OrderState:
        """Cancel for a refund and record it (the chat's card follows)."""
        return await self._acted(await self._s.orders.act(user_id, order_id, Action.CANCEL))

    async def next_sms(self, user_id: int, order_id: str) -> OrderState:
        """Ask for another SMS on the same number and record the new state."""
        return await self._acted(await self._s.orders.act(user_id, order_id, Action.NEXT_SMS))

    async def set_quote_auto_replace(self, user_id: int, token: str, on: bool) -> bool:
        """The confirmation's auto-replace switch, recorded on its purchase; False when the
        token is not an unused confirmation of the user's (as the chat's 🔁 answers)."""
        return await self._s.replacement.set_for_confirmation(user_id, token, on)

    async def set_auto_replace(self, user_id: int, order_id: str, on: bool) -> OrderState:
        """The order screen's auto-replace switch (the chat's card follows).

        Raises:
            NotYoursError: unknown, another user's, or no longer waiting for its first SMS.
        """
        order = await self._s.replacement.set_for_order(user_id, order_id, on)
        if order is None:
            raise NotYoursError
        return await self._state(order)

    async def _acted(self, outcome: ActOutcome) -> OrderState:
        if isinstance(outcome, ActionRefused):
            raise outcome.error
        if not isinstance(outcome, Acted):
            raise NotYoursError
        return await self._state(outcome.order)

    async def history(self, user_id: int, cursor: str | None, limit: int) -> History:
        """One page of the user's orders as the API lists them, with service names."""
        return await self._s.orders.history(user_id, cursor, limit)

    async def favourites(self, user_id: int) -> list[FavouriteOffer]:
        """The user's favourites at today's price and stock (first in the service list)."""
        return await self._s.favourites.offers(user_id)

    async def toggle_favourite(self, user_id: int, service: str, country_id: int) -> ToggleOutcome:
        """★ on the confirmation: the chat's toggle (at most ten, refused as in the chat)."""
        return await self._s.favourites.toggle(user_id, service, country_id)

    async def toggle_order_favourite(self, user_id: int, order_id: str) -> ToggleOutcome:
        """★ on the order screen: the order's service and country.

        Raises:
            NotYoursError: unknown, or another user's order.
        """
        outcome = await self._s.favourites.toggle_order(user_id, order_id)
        if isinstance(outcome, Unknown):
            raise NotYoursError
        return outcome

    async def alternatives(self, user_id: int, service: str, country_id: int) -> Alternatives:
        """A sold-out country: the cheapest ones with stock, and whether an alert watches it.

        Raises:
            OfferGoneError: the service, or the country, is not known.
        """
        found = await self._s.alerts.alternatives(user_id, service, country_id)
        if not isinstance(found, Alternatives):
            raise OfferGoneError
        return found

    async def notify_me(self, user_id: int, service: str, country_id: int) -> WatchOutcome:
        """The chat's "Notify me when available" alert for the pair."""
        return await self._s.alerts.watch(user_id, service, country_id)

    async def alerts(self, user_id: int) -> list[Alert]:
        """The user's waiting alerts, oldest first."""
        return await self._s.alerts.waiting(user_id)

    async def cancel_alert(self, user_id: int, alert_id: str) -> None:
        """Cancel one of the user's waiting alerts.

        Raises:
            NotYoursError: unknown, another user's, or no longer waiting.
        """
        if not await self._s.alerts.cancel(user_id, alert_id):
            raise NotYoursError

    async def follow(
        self, user_id: int, order_id: str, gone: Callable[[], bool] = lambda: False
    ) -> Listener:
        """Follow the user's order live: its state now, then each change the database shows.

        Raises:
            NotYoursError: unknown, or another user's order.
            StreamsFull: the process holds its maximum of live streams.
        """
        return await self.live.follow(user_id, order_id, gone)

    async def _state(self, order: StoredOrder) -> OrderState:
        return await self.live.state(order)
