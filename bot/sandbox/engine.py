"""Accounts and orders of the sandbox: the state machine, free of any HTTP.

Time only moves through the injected clock, and orders advance lazily: each
order knows when its SMS is due and when it expires, and whenever an order is
observed every event due by then is applied *at the time it was due*, so the
result does not depend on when (or how often) anyone looks.
"""

from __future__ import annotations

import bisect
import random
import re
import secrets
import string
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from bot.sandbox.catalogue import Catalogue, Service
from bot.sandbox.catalogue import Offer as CatalogueOffer
from bot.sandbox.clock import Clock
from bot.sandbox.config import SandboxConfig
from bot.sandbox.countries import Country

DEFAULT_BALANCE_CENTS = 1000
DEFAULT_DISPLAY_NAME = "Sandbox user"
DEFAULT_LANG = "en"

AUTO_KEY_RE = re.compile(r"jm_[A-Za-z0-9_-]{20,64}")
"""Keys that ``auto_accounts`` accepts: ``jm_`` and 20 to 64 url-safe characters."""

_ID_ALPHABET = string.ascii_lowercase + string.digits
_CODE_LENGTHS = {"tg": 5}
_SMS_TEMPLATES = {
    "go": "G-{code} is your Google verification code.",
    "fb": "{code} is your Facebook confirmation code.",
}
DeliveryMode = Literal["normal", "slow", "never"]
"""How a country's numbers get their SMS (see :class:`~bot.sandbox.SandboxConfig`)."""

_DEFAULT_SMS_TEMPLATE = "Your {name} code is {code}. Don't share it."


class ApiError(Exception):
    """A refusal, answered as ``{"ok": false, "code": ..., "message": ...}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class OrderStatus(StrEnum):
    """Statuses of an order; the last three are final."""

    WAITING = "WAITING"
    RECEIVED = "RECEIVED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED})


@dataclass(slots=True)
class Account:
    """A user of the service."""

    id: str
    balance_cents: int
    display_name: str
    lang: str
    referral_code: str
    banned: bool = False


@dataclass(slots=True)
class _Key:
    account_id: str
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class Sms:
    """One SMS received by an order's number."""

    body: str
    received_at: float


@dataclass(slots=True, eq=False)
class Order:
    """A rented number and everything that happened to it.

    ``history`` holds every status with the time it began, so the order can be
    shown as it was at any past moment (see :meth:`view_at`).
    """

    id: str
    account_id: str
    service: Service
    country: Country
    phone: str
    charged_cents: int
    created_at: float
    expires_at: float
    sms_due_at: float | None
    status: OrderStatus = OrderStatus.WAITING
    sms: list[Sms] = field(default_factory=list)
    history: list[tuple[float, OrderStatus]] = field(default_factory=list)
    refunded_cents: int = 0

    def __post_init__(self) -> None:
        self.history.append((self.created_at, self.status))

    def view_at(self, moment: float) -> OrderView:
        """Returns the order as it was at ``moment`` (its first state if earlier)."""
        index = bisect.bisect_right(self.history, moment, key=lambda entry: entry[0])
        status = self.history[max(index - 1, 0)][1]
        sms = tuple(sms for sms in self.sms if sms.received_at <= moment)
        return OrderView(self, status, sms)

    def set_status(self, status: OrderStatus, at: float) -> None:
        self.status = status
        self.history.append((at, status))


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order's visible state at one moment."""

    order: Order
    status: OrderStatus
    sms: tuple[Sms, ...]


class Engine:
    """Accounts, keys and orders, advanced by a clock.

    Every method is synchronous and never awaits, so each call is atomic on
    the event loop.
    """

    def __init__(self, config: SandboxConfig, catalogue: Catalogue, clock: Clock) -> None:
        self.catalogue = catalogue
        self.list_lag = config.list_lag
        self._config = config
        self.never_deliver = set(config.never_deliver)
        self.slow_deliver = set(config.slow_deliver)
        self.rising_prices = set(config.rising_prices)
        self._clock = clock
        self._rng = random.Random(f"engine:{config.seed}")
        self._accounts: dict[str, Account] = {}
        self._keys: dict[str, _Key] = {}
        self._orders: dict[str, Order] = {}
        self._orders_of: defaultdict[str, list[Order]] = defaultdict(list)

    # Accounts and keys.

    def create_account(
        self,
        key: str | None = None,
        *,
        balance_cents: int = DEFAULT_BALANCE_CENTS,
        display_name: str = DEFAULT_DISPLAY_NAME,
        lang: str = DEFAULT_LANG,
        banned: bool = False,
    ) -> tuple[str, Account]:
        """Creates an account reached with ``key`` (generated when ``None``)."""
        if key is None:
            key = "jm_" + secrets.token_urlsafe(32)
        if not key:
            raise ApiError(400, "BAD_REQUEST", "The key must not be empty.")
        if key in self._keys:
            raise ApiError(400, "KEY_EXISTS", "This key already belongs to an account.")
        account = Account(
            id=self._new_id("cl", self._accounts),
            balance_cents=balance_cents,
            display_name=display_name,
            lang=lang,
            referral_code="".join(self._rng.choices(_ID_ALPHABET, k=6)),
            banned=banned,
        )
        self._accounts[account.id] = account
        self._keys[key] = _Key(account.id)
        return key, account

    def account_of_key(self, key: str) -> Account:
        """The account of a key, revoked or not, banned or not."""
        record = self._keys.get(key)
        if record is None:
            raise ApiError(404, "NOT_FOUND", "No such key.")
        return self._accounts[record.account_id]

    def revoke(self, key: str) -> None:
        self.account_of_key(key)
        self._keys[key].revoked = True

    def authenticate(self, key: str | None) -> Account:
        """Returns the account of an API key, or raises the spec's auth errors."""
        if not key:
            raise ApiError(401, "AUTH_MISSING", "An API key is required.")
        record = self._keys.get(key)
        if record is None and self._config.auto_accounts and AUTO_KEY_RE.fullmatch(key):
            self.create_account(key, balance_cents=self._config.auto_balance_cents)
            record = self._keys[key]
        if record is None or record.revoked:
            raise ApiError(401, "AUTH_INVALID", "The API key is invalid or revoked.")
        account = self._accounts[record.account_id]
        if account.banned:
            raise ApiError(403, "FORBIDDEN", "This account is suspended.")
        return account

    def synced(self, account: Account) -> Account:
        """Returns the account after applying every refund due by now."""
        now = self._clock()
        for order in self._orders_of[account.id]:
            self._advance(order, now)
        return account

    # Orders, as the API sees them.

    def create_order(self, account: Account, service: str, country: int | str) -> OrderView:
        """Rents a number: charges the price, takes one from stock."""
        found_service = self.catalogue.service(service)
        if found_service is None:
            raise ApiError(400, "BAD_SERVICE", f"Unknown service {service!r}.")
        found_country = self.catalogue.country(country)
        if found_country is None:
            raise ApiError(400, "BAD_COUNTRY", f"Unknown country {country!r}.")
        offer = self.catalogue.offer(found_service, found_country)
        if offer is None:
            raise ApiError(400, "NO_NUMBERS", "This service is not sold in this country.")
        self.synced(account)
        if account.balance_cents < offer.price_cents:
            raise ApiError(400, "INSUFFICIENT", "Insufficient balance: please top up.")
        if offer.stock <= 0:
            raise ApiError(400, "NO_NUMBERS", "No numbers available right now.")
        now = self._clock()
        delay = self._sms_delay(found_country.id)
        order = Order(
            id=self._new_id("ck", self._orders),
            account_id=account.id,
            service=found_service,
            country=found_country,
            phone=found_country.random_phone(self._rng),
            charged_cents=offer.price_cents,
            created_at=now,
            expires_at=now + self._config.order_ttl,
            sms_due_at=None if delay is None else now + delay,
        )
        account.balance_cents -= offer.price_cents
        offer.stock -= 1
        if found_country.id in self.rising_prices:
            rise = offer.price_cents * self._config.price_rise_percent // 100
            offer.price_cents += max(1, rise)
        self._orders[order.id] = order
        self._orders_of[account.id].append(order)
        return order.view_at(now)

    def get_order(self, account: Account, order_id: str) -> OrderView:
        """One order, synced up to now (the spec's per-order GET forces a sync)."""
        order = self._own_order(account, order_id)
        now = self._clock()
        self._advance(order, now)
        return order.view_at(now)

    def list_orders(
        self, account: Account, *, limit: int, cursor: str | None, status: OrderStatus | None
    ) -> tuple[list[OrderView], str | None]:
        """A page of the account's orders, newest first, and the next page's cursor.

        Orders are shown as they were ``list_lag`` seconds ago, modelling the
        provider's background sync; an order younger than that is shown as it
        was created, since the list is read from the provider's own records.
        """
        now = self._clock()
        newest_first = self._orders_of[self.synced(account).id][::-1]
        if cursor is not None:
            position = next((i for i, o in enumerate(newest_first) if o.id == cursor), None)
            if position is None:
                raise ApiError(400, "BAD_REQUEST", "Unknown cursor.")
            newest_first = newest_first[position + 1 :]
        moment = now - self.list_lag
        views = [order.view_at(max(moment, order.created_at)) for order in newest_first]
        if status is not None:
            views = [view for view in views if view.status is status]
        page = views[:limit]
        return page, page[-1].order.id if len(views) > limit else None

    def cancel(self, account: Account, order_id: str) -> OrderView:
        """Cancels an order that never received an SMS, with a full refund.

        A final order is refused with ``ALREADY_CHANGED`` even if it had an
        SMS: its status has changed, which is the more useful thing to tell.
        """
        order = self._own_order(account, order_id)
        now = self._clock()
        self._advance(order, now)
        if order.status in FINAL_STATUSES:
            raise ApiError(400, "ALREADY_CHANGED", f"The order is already {order.status}.")
        if order.sms:
            raise ApiError(400, "CODE_RECEIVED", "The number already received an SMS.")
        self._finish(order, OrderStatus.CANCELLED, now)
        return order.view_at(now)

    def next_sms(self, account: Account, order_id: str) -> OrderView:
        """Puts a RECEIVED order back to WAITING for another SMS, at no cost."""
        order = self._own_order(account, order_id)
        now = self._clock()
        self._advance(order, now)
        if order.status is not OrderStatus.RECEIVED:
            raise ApiError(
                400,
                "BAD_STATUS",
                f"Only a RECEIVED order can wait for another SMS: {order.status}.",
            )
        order.set_status(OrderStatus.WAITING, now)
        delay = self._sms_delay(order.country.id)
        order.sms_due_at = None if delay is None else now + delay
        return order.view_at(now)

    # Orders, as tests drive them.

    def current_orders(self, account: Account) -> list[OrderView]:
        """Every order of an account, newest first, as it is now (no list lag)."""
        now = self._clock()
        return [order.view_at(now) for order in self._orders_of[self.synced(account).id][::-1]]

    def order(self, order_id: str) -> Order:
        """Any account's order, synced up to now."""
        order = self._orders.get(order_id)
        if order is None:
            raise ApiError(404, "NOT_FOUND", "No such order.")
        self._advance(order, self._clock())
        return order

    def deliver_sms(self, order_id: str, body: str | None = None) -> OrderView:
        """Delivers an SMS now (replacing any scheduled one) to an active order."""
        order = self._active_order(order_id)
        now = self._clock()
        self._receive(order, body if body is not None else self._sms_text(order.service), now)
        return order.view_at(now)

    def expire(self, order_id: str) -> OrderView:
        """Moves an active order's expiry to now and applies it."""
        order = self._active_order(order_id)
        now = self._clock()
        order.expires_at = now
        self._advance(order, now)
        return order.view_at(now)

    def fail(self, order_id: str) -> OrderView:
        """Ends an active order as FAILED (a provider failure), refunded if it had no SMS."""
        order = self._active_order(order_id)
        now = self._clock()
        self._finish(order, OrderStatus.FAILED, now)
        return order.view_at(now)

    def set_stock(self, service: str, country: int | str, count: int) -> None:
        self._offer(service, country).stock = count

    def set_price(self, service: str, country: int | str, cents: int) -> None:
        self._offer(service, country).price_cents = cents

    def set_delivery(self, country: int, mode: DeliveryMode) -> None:
        """How a country's numbers get their SMS from now on (orders made later)."""
        for countries, wanted in ((self.never_deliver, "never"), (self.slow_deliver, "slow")):
            if mode == wanted:
                countries.add(country)
            else:
                countries.discard(country)

    # Internals.

    def _sms_delay(self, country_id: int) -> float | None:
        if country_id in self.never_deliver:
            return None
        if country_id in self.slow_deliver:
            return self._config.slow_sms_delay
        return self._config.sms_delay

    def _offer(self, service: str, country: int | str) -> CatalogueOffer:
        found_service = self.catalogue.service(service)
        found_country = self.catalogue.country(country)
        offer = None
        if found_service is not None and found_country is not None:
            offer = self.catalogue.offer(found_service, found_country)
        if offer is None:
            raise ApiError(404, "NOT_FOUND", "This service is not sold in this country.")
        return offer

    def _own_order(self, account: Account, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None or order.account_id != account.id:
            raise ApiError(404, "NOT_FOUND", "Order not found.")
        return order

    def _active_order(self, order_id: str) -> Order:
        order = self.order(order_id)
        if order.status in FINAL_STATUSES:
            raise ApiError(400, "ALREADY_CHANGED", f"The order is already {order.status}.")
        return order

    def _advance(self, order: Order, now: float) -> None:
        """Applies, at their own times, the SMS and expiry due by ``now``."""
        if order.status in FINAL_STATUSES:
            return
        due = order.sms_due_at
        if due is not None and due <= now and due < order.expires_at:
            self._receive(order, self._sms_text(order.service), due)
        if order.expires_at <= now:
            ended = OrderStatus.COMPLETED if order.sms else OrderStatus.CANCELLED
            self._finish(order, ended, order.expires_at)

    def _receive(self, order: Order, body: str, at: float) -> None:
        order.sms.append(Sms(body, at))
        order.sms_due_at = None
        order.set_status(OrderStatus.RECEIVED, at)

    def _finish(self, order: Order, status: OrderStatus, at: float) -> None:
        """Ends an order; one that never got an SMS is refunded in full."""
        order.set_status(status, at)
        order.sms_due_at = None
        if not order.sms:
            order.refunded_cents = order.charged_cents
            self._accounts[order.account_id].balance_cents += order.charged_cents

    def _sms_text(self, service: Service) -> str:
        length = _CODE_LENGTHS.get(service.code, 6)
        code = "".join(self._rng.choices(string.digits, k=length))
        template = _SMS_TEMPLATES.get(service.code, _DEFAULT_SMS_TEMPLATE)
        return template.format(code=code, name=service.name)

    def _new_id(self, prefix: str, taken: Mapping[str, object]) -> str:
        while True:
            candidate = prefix + "".join(self._rng.choices(_ID_ALPHABET, k=23))
            if candidate not in taken:
                return candidate
