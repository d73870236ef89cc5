"""Typed results of the jiema API, parsed strictly from its JSON.

Money is always ``int`` cents parsed from the API's strings. A missing or mistyped field
the spec promises raises :class:`~bot.api.errors.MalformedResponseError`; unknown fields
are ignored, unknown order statuses are kept as they are (see :attr:`Order.is_final`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.api.errors import MalformedResponseError
from bot.order_status import FINAL_STATUSES

_KEY_RE = re.compile(r"jm_[A-Za-z0-9_-]{20,64}")
_CENTS_RE = re.compile(r"-?[0-9]{1,15}")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A user's API key. Its repr and str never show the secret.

    Attributes:
        secret: The full ``jm_…`` token; read it only to build the auth header.
    """

    secret: str = field(repr=False)
    id: str = field(init=False, repr=False, compare=False)
    """A short, non-reversible id for this key (rate-limiter buckets, logs); hashed once,
    not at every request."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", hashlib.sha256(self.secret.encode()).hexdigest()[:12])

    @classmethod
    def parse(cls, text: str) -> ApiKey | None:
        """Return the key if ``text`` (stripped) looks like a jiema key, else ``None``."""
        text = text.strip()
        return cls(text) if _KEY_RE.fullmatch(text) else None

    def __repr__(self) -> str:
        return f"ApiKey(id={self.id})"

    __str__ = __repr__


def _object(data: object, what: str) -> Mapping[str, Any]:
    """``data`` itself, if it is a JSON object; a parser never gets further otherwise."""
    if not isinstance(data, Mapping):
        raise MalformedResponseError(f"{what} is not an object")
    return data


def _req(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedResponseError(f"field {name!r} missing or not {kind}")
    return value


def _opt(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedResponseError(f"field {name!r} is not {kind}")
    return value


def parse_cents(value: object, name: str = "cents") -> int:
    """Parse a ``…Cents`` field: a string holding an integer (plain ints are tolerated)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _CENTS_RE.fullmatch(value):
        return int(value)
    raise MalformedResponseError(f"field {name!r} is not an integer amount of cents")


def _opt_cents(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    return None if value is None else parse_cents(value, name)


def parse_time(value: object, name: str = "time") -> datetime | None:
    """Parse an ISO-8601 timestamp (``2026-05-22T08:30:00.000Z``) to an aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponseError(f"field {name!r} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # Overflow: e.g. year 1 at +01:00 in UTC.
        raise MalformedResponseError(f"field {name!r} is not a timestamp") from exc


def _str_id(data: Mapping[str, Any], name: str) -> str | None:
    """Ids the spec shows as numbers in one place and strings in another (``country``)."""
    value = _opt(data, name, (str, int))
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Account:
    """``GET /v1/account``."""

    id: str
    balance_cents: int
    display_name: str | None
    lang: str | None
    referral_code: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Account:
        data = _object(data, "account")
        return cls(
            id=_req(data, "id", str),
            balance_cents=parse_cents(data.get("balanceCents"), "balanceCents"),
            display_name=_opt(data, "displayName", str),
            lang=_opt(data, "lang", str),
            referral_code=_opt(data, "referralCode", str),
        )


@dataclass(frozen=True, slots=True)
class Service:
    """One entry of ``GET /v1/services``. ``min_cost_usd`` is the API's float, kept exact."""

    code: str
    slug: str
    name: str
    min_cost_usd: Decimal | None
    total_count: int
    country_count: int

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Service:
        data = _object(data, "service")
        code = _req(data, "code", str)
        raw_cost = _opt(data, "minCostUsd", (int, float, str))
        try:
            min_cost = None if raw_cost is None else Decimal(str(raw_cost))
        except InvalidOperation as exc:
            raise MalformedResponseError("field 'minCostUsd' is not a number") from exc
        return cls(
            code=code,
            slug=_opt(data, "slug", str) or code,
            name=_opt(data, "name", str) or code,
            min_cost_usd=min_cost,
            total_count=_opt(data, "totalCount", int) or 0,
            country_count=_opt(data, "countryCount", int) or 0,
        )


@dataclass(frozen=True, slots=True)
class Country:
    """One entry of ``GET /v1/countries``; ``slug`` is in practice the ISO 3166-1 code."""

    id: int
    slug: str
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Country:
        data = _object(data, "country")
        slug = _req(data, "slug", str)
        return cls(id=_req(data, "id", int), slug=slug, name=_opt(data, "name", str) or slug)


@dataclass(frozen=True, slots=True)
class Price:
    """One country's price and stock for a service (``GET /v1/prices``)."""

    country_id: int
    country_slug: str
    price_cents: int
    count: int

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Price:
        data = _object(data, "price")
        return cls(
            country_id=_req(data, "countryId", int),
            country_slug=_opt(data, "countrySlug", str) or "",
            price_cents=parse_cents(data.get("priceCents"), "priceCents"),
            count=_opt(data, "count", int) or 0,
        )


@dataclass(frozen=True, slots=True)
class Sms:
    """One received SMS; its identity is its position in the order's history."""

    body: str
    received_at: datetime | None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as returned by create, get and list (fields absent from an answer are None)."""

    id: str
    status: str
    """An :class:`~bot.order_status.OrderStatus` value, or an unknown one as sent."""
    service: str | None = None
    country: str | None = None
    phone: str | None = None
    expires_at: datetime | None = None
    charged_cents: int | None = None
    created_at: datetime | None = None
    sms_history: tuple[Sms, ...] = ()

    @property
    def is_final(self) -> bool:
        """``COMPLETED``, ``FAILED`` and ``CANCELLED`` end an order; unknown statuses don't."""
        return self.status in FINAL_STATUSES

    @property
    def sms_body(self) -> str | None:
        """The newest SMS, as the API's ``smsBody``."""
        return self.sms_history[-1].body if self.sms_history else None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Order:
        data = _object(data, "order")
        history_raw = _opt(data, "smsHistory", list) or []
        history: list[Sms] = []
        for item in history_raw:
            if not isinstance(item, Mapping):
                raise MalformedResponseError("smsHistory entry is not an object")
            history.append(
                Sms(_req(item, "body", str), parse_time(item.get("receivedAt"), "receivedAt"))
            )
        body = _opt(data, "smsBody", str)
        if body is not None and not history:
            # Older answers may carry only smsBody: it is then the one SMS so far.
            history.append(Sms(body, parse_time(data.get("smsReceivedAt"), "smsReceivedAt")))
        return cls(
            id=_req(data, "id", str),
            status=_req(data, "status", str),
            service=_str_id(data, "service"),
            country=_str_id(data, "country"),
            phone=_opt(data, "phone", str),
            expires_at=parse_time(data.get("expiresAt"), "expiresAt"),
            charged_cents=_opt_cents(data, "chargedCents"),
            created_at=parse_time(data.get("createdAt"), "createdAt"),
            sms_history=tuple(history),
        )


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of ``GET /v1/orders``; ``next_cursor`` is None on the last page."""

    items: tuple[Order, ...]
    next_cursor: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> OrderPage:
        data = _object(data, "order page")
        items = _req(data, "items", list)
        if not all(isinstance(item, Mapping) for item in items):
            raise MalformedResponseError("order list entry is not an object")
        return cls(
            items=tuple(Order.from_api(item) for item in items),
            next_cursor=_opt(data, "nextCursor", str),
        )


def listed_orders(data: Mapping[str, Any], order_ids: Collection[str]) -> dict[str, Order]:
    """The entries of ``order_ids`` on a page of ``GET /v1/orders``, parsed, by id.

    For the poller, which looks up a key's few watched orders in a page of twenty: the
    other entries are neither parsed nor checked (building every :class:`Order` of the page
    was 3 % of the bot's CPU under polling). A watched entry that is malformed raises.
    """
    items = _req(_object(data, "order page"), "items", list)
    return {
        entry["id"]: Order.from_api(entry)
        for entry in items
        if isinstance(entry, Mapping)
        and isinstance(entry.get("id"), str)
        and entry["id"] in order_ids
    }


def parse_items(data: Mapping[str, Any], name: str = "items") -> list[Mapping[str, Any]]:
    """The ``items`` list of a catalogue answer, each entry checked to be an object."""
    items = _req(data, name, list)
    if not all(isinstance(item, Mapping) for item in items):
        raise MalformedResponseError(f"{name} entry is not an object")
    return items
