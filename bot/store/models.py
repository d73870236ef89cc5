"""Rows returned by :class:`bot.store.Store`. Times are timezone-aware, in UTC."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.order_status import FINAL_STATUSES

__all__ = [
    "FINAL_STATUSES",
    "Delivery",
    "DeliveryState",
    "Purchase",
    "PurchaseState",
    "StoredOrder",
    "User",
]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PurchaseState(StrEnum):
    """Life of a confirmation button: offered → creating → done | failed | unknown.

    ``unknown`` means the create request was sent but its answer was lost: the user may
    have been charged, so the order list must be checked before offering a retry.
    """

    OFFERED = "offered"
    CREATING = "creating"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class DeliveryState(StrEnum):
    """An SMS is claimed (``pending``) before it is sent, and ``sent`` once Telegram has it."""

    PENDING = "pending"
    SENT = "sent"


@dataclass(frozen=True, slots=True)
class User:
    telegram_id: int
    language: str | None
    key_cipher: bytes | None = field(repr=False)
    key_fingerprint: str | None
    display_name: str | None
    chat_active: bool
    key_revoked: bool
    created_at: datetime
    updated_at: datetime
    dialog: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """The chat state (JSON object); empty when there is none. Change it with
    ``Store.set_dialog``: editing this mapping changes nothing stored."""
    announcements_muted: bool = False
    last_seen_at: datetime | None = None

    @property
    def has_key(self) -> bool:
        return self.key_cipher is not None


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order as the bot tracks it.

    Build one from the create response and pass it to ``Store.save_order``; the fields with
    defaults describe a brand-new order.
    """

    id: str
    user_id: int
    key_fingerprint: str
    service: str
    service_name: str
    country_id: str
    country_slug: str
    phone: str
    status: str
    expires_at: datetime | None
    charged_cents: int
    card_message_id: int | None = None
    card_hash: str | None = None
    card_retry_at: datetime | None = None
    sms_seen: int = 0
    final_notified: bool = False
    created_at: datetime = field(default_factory=_utc_now)
    updated_at: datetime = field(default_factory=_utc_now)
    rate_counted: bool = False
    """Counted in its service and country's delivery rate (``Store.count_delivery``)."""

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class Delivery:
    """One SMS of an order (``position`` = its index in ``smsHistory``) sent to the user."""

    order_id: str
    position: int
    body: str
    received_at: datetime | None
    state: DeliveryState
    message_id: int | None
    created_at: datetime
    attempts: int = 0
    doubtful: int = 0
    given_up: bool = False
    user_id: int | None = None
    """Set by the outbox queries (the order's user), None elsewhere."""

    @property
    def sort_key(self) -> tuple[datetime, str, int]:
        """The order codes go out in: as the SMS arrived, then by position."""
        return (self.received_at or self.created_at, self.order_id, self.position)


@dataclass(frozen=True, slots=True)
class Purchase:
    """A single-use purchase confirmation; ``token`` goes into the button's callback_data."""

    token: str
    user_id: int
    service: str
    service_name: str
    country_id: str
    country_slug: str
    price_cents: int
    state: PurchaseState
    order_id: str | None
    created_at: datetime
    updated_at: datetime
    reconcile_after: datetime | None = None
    """While ``creating``/``unknown``: not before this time may a reconciler look at it (the
    request that claimed it is still at work). None: due now."""


# -- favourites, alerts, top-up ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Favourite:
    """A service + country pair the user saved for one-tap buying from ``/buy``."""

    user_id: int
    service: str
    service_name: str
    country_id: str
    country_slug: str
    created_at: datetime


class AlertState(StrEnum):
    """An alert is ``active`` until it fires: ``firing`` (claimed) → ``sent``.

    ``cancelled`` by the user; ``expired`` once past ``expires_at`` without firing.
    """

    ACTIVE = "active"
    FIRING = "firing"
    SENT = "sent"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Alert:
    """ "Tell me when this service + country has numbers again", for one user."""

    id: str
    user_id: int
    service: str
    service_name: str
    country_id: str
    country_slug: str
    state: AlertState
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    fired_at: datetime | None
    price_cents: int | None
