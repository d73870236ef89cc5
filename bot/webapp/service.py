"""The Mini App's use cases, composed from the chat's services (no Telegram, no HTTP).

Every HTTP handler of the page calls exactly one method here. The methods only combine the
services the chat uses (the same quote/claim/create path, the same ownership checks, the
same tracker applying cancels and second SMS), so the page and the chat can never disagree
about money or orders. Results are plain data; rendering to JSON is the handler's job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.api import Account, OrderPage, Service
from bot.api.errors import JiemaError, NotFoundError
from bot.i18n import negotiate
from bot.services.accounts import AccountService, NotLinkedError
from bot.services.catalog import Catalog, Offer
from bot.services.orders import NotYoursError, OrderService
from bot.services.purchases import (
    AlreadyUsed,
    OfferGoneError,
    PurchaseService,
    Quote,
    Unconfirmed,
)
from bot.store import Delivery, Store, StoredOrder
from bot.tracker import OrderTracker
from bot.webapp.auth import WebAppUser


class Services(Protocol):
    """What the Mini App needs from the process's service container."""

    @property
    def store(self) -> Store: ...
    @property
    def accounts(self) -> AccountService: ...
    @property
    def catalog(self) -> Catalog: ...
    @property
    def purchases(self) -> PurchaseService: ...
    @property
    def orders(self) -> OrderService: ...
    @property
    def tracker(self) -> OrderTracker: ...


@dataclass(frozen=True, slots=True)
class Profile:
    """Who opened the page: their language, and their account when a key is linked."""

    user: WebAppUser
    language: str
    linked: bool
    account: Account | None


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the bot's database has it, with every SMS the tracker recorded."""

    order: StoredOrder
    deliveries: tuple[Delivery, ...]

    def fingerprint(self) -> tuple[object, ...]:
        """What the page shows of the order: a change here is worth a push."""
        o = self.order
        sms = tuple((d.position, d.body, d.received_at) for d in self.deliveries)
        return (o.status, o.expires_at, o.sms_seen, o.charged_cents, o.phone, sms)


@dataclass(frozen=True, slots=True)
class History:
    """One page of the user's orders, with service names to label them."""

    page: OrderPage
    names: dict[str, str]


BuyOutcome = OrderState | AlreadyUsed | Unconfirmed


class MiniApp:
    """Use cases of the page for one process; see the module docstring."""

    def __init__(
        self,
        services: Services,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s = services
        self._sleep = sleep
        self._clock = clock

    async def language(self, user: WebAppUser) -> str:
        """The user's stored language (their /language choice), else negotiated."""
        profile = await self._s.store.ensure_user(user.id, negotiate(user.language_code))
        return profile.language or negotiate(user.language_code)

    async def profile(self, user: WebAppUser) -> Profile:
        """Language, and the balance read fresh when a key is linked.

        A linked user whose balance cannot be read now (API down) still counts as linked.
        """
        language = await self.language(user)
        try:
            account = await self._s.accounts.account(user.id)
        except NotLinkedError:
            return Profile(user, language, linked=False, account=None)
        except JiemaError:
            account = None
        return Profile(user, language, linked=True, account=account)

    async def catalogue(self, user_id: int) -> list[Service]:
        """Every service, ranked as the chat ranks them (recent, popular, then stock)."""
        key = await self._s.accounts.key_for(user_id)
        recent = tuple(await self._s.store.recent_services(user_id))
        return await self._s.catalog.services(key, recent)

    async def countries(self, user_id: int, service: str) -> tuple[Service, list[Offer]]:
        """A service and every country pricing it, sold-out ones last (``count`` 0).

        Raises:
            OfferGoneError: the service is not listed.
        """
        key = await self._s.accounts.key_for(user_id)
        svc = await self._s.catalog.service(key, service)
        if svc is None:
            raise OfferGoneError
        return svc, await self._s.catalog.listing(key, service)

    async def quote(self, user_id: int, service: str, country_id: int) -> Quote:
        """A single-use purchase token, price and balance: the chat's confirmation."""
        return await self._s.purchases.quote(user_id, service, country_id)

    async def buy(self, user_id: int, token: str) -> BuyOutcome:
        """Claim the token, then create the order exactly once, as the chat's Buy does.

        Raises:
            bot.api.errors.JiemaError: the API refused (``INSUFFICIENT``, ``NO_NUMBERS``, …).
        """
        claimed = await self._s.purchases.claim(user_id, token)
        if isinstance(claimed, AlreadyUsed):
            return claimed
        created = await self._s.purchases.create(claimed)
        if isinstance(created, Unconfirmed):
            return created
        return await self._state(created.order)

    async def order(self, user_id: int, order_id: str) -> OrderState:
        """The user's order; one the bot does not track yet is adopted if the API says so.

        Raises:
            NotYoursError: unknown, or another user's.
        """
        try:
            stored = await self._s.orders.get(user_id, order_id)
        except NotYoursError:
            try:
                stored = await self._s.orders.adopt(user_id, order_id)
            except (NotFoundError, NotLinkedError):
                raise NotYoursError from None
        return await self._state(stored)

    async def cancel(self, user_id: int, order_id: str) -> OrderState:
        """Cancel for a refund and record it (the chat's card follows)."""
        stored, fresh = await self._s.orders.cancel(user_id, order_id)
        return await self._state(await self._s.tracker.observe(stored, fresh, user_ended=True))

    async def next_sms(self, user_id: int, order_id: str) -> OrderState:
        """Ask for another SMS on the same number and record the new state."""
        stored, fresh = await self._s.orders.next_sms(user_id, order_id)
        return await self._state(await self._s.tracker.observe(stored, fresh))

    async def history(self, user_id: int, cursor: str | None, limit: int) -> History:
        """One page of the user's orders as the API lists them."""
        page = await self._s.orders.history(user_id, cursor, limit)
        names = {s.code: s.name for s in await self.catalogue(user_id)}
        return History(page, names)

    async def watch(
        self,
        user_id: int,
        order_id: str,
        *,
        interval: float = 0.4,
        heartbeat: float = 15.0,
        max_duration: float = 600.0,
        gone: Callable[[], bool] = lambda: False,
    ) -> AsyncGenerator[OrderState | None, None]:
        """The order each time the database shows it changed; None as a keep-alive point.

        Reads the stored order and its SMS (never the API), so it sees whatever any
        replica's poller recorded. Starts with the current state; ends after the order is
        final, once ``gone()`` says the page left, or after ``max_duration`` seconds (the
        page reconnects).

        Raises:
            NotYoursError: before the first state, for an order that is not the user's.
        """
        state = await self._state(await self._s.orders.get(user_id, order_id))
        return self._changes(state, interval, heartbeat, max_duration, gone)

    async def _changes(
        self,
        state: OrderState,
        interval: float,
        heartbeat: float,
        max_duration: float,
        gone: Callable[[], bool],
    ) -> AsyncGenerator[OrderState | None, None]:
        start = last_sent = self._clock()
        shown = state.fingerprint()
        yield state
        while not state.order.is_final and self._clock() - start < max_duration:
            await self._sleep(interval)
            if gone():
                return
            current = await self._s.store.get_order(state.order.id)
            if current is None:
                return
            state = await self._state(current)
            if state.fingerprint() != shown:
                shown = state.fingerprint()
                last_sent = self._clock()
                yield state
            elif self._clock() - last_sent >= heartbeat:
                last_sent = self._clock()
                yield None

    async def _state(self, order: StoredOrder) -> OrderState:
        deliveries = await self._s.store.deliveries_for(order.id)
        return OrderState(order, tuple(deliveries))
