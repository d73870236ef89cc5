"""Rows returned by :class:`bot.store.Store`. Times are timezone-aware, in UTC."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from bot.order_status import FINAL_STATUSES

__all__ = [
    "FINAL_STATUSES",
    "OPEN_SWAP_STATES",
    "Delivery",
    "DeliveryState",
    "Purchase",
    "PurchaseState",
    "StoredOrder",
    "Swap",
    "SwapState",
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
    auto_replace: bool = False
    """New confirmations start with automatic replacement on (the /settings default)."""

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
    auto_replace: bool = False
    """Replace the number by itself when no SMS comes (see bot.services.replacement)."""
    confirmed_cents: int | None = None
    """The price the user confirmed: no replacement costs more. None: ``charged_cents``."""
    replaces_left: int | None = None
    """Replacements still allowed in this order's chain; None: the operator's maximum."""
    replaced_from: str | None = None
    """On a replacement: the number it replaced (refunded)."""
    replaced_by: str | None = None
    """On a replaced order: the number that replaced it; ``""`` when none could be bought."""
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
    auto_replace: bool = False
    """The order it buys replaces its number by itself when no SMS comes."""


class SwapState(StrEnum):
    """A replacement of an order's number, claimed in the database before anything is done.

    ``claimed`` (cancel not confirmed yet) → ``cancelled`` (the API answered CANCELLED: the
    refund is confirmed) → ``buying`` (a purchase token holds the one create) → ``bought``
    (the new order exists) → ``done`` (the user was told). ``kept``: an SMS came, the order
    stays. ``gave_up``: nothing to buy (or the cancel was refused for another reason).
    """

    CLAIMED = "claimed"
    CANCELLED = "cancelled"
    BUYING = "buying"
    BOUGHT = "bought"
    DONE = "done"
    KEPT = "kept"
    GAVE_UP = "gave_up"


OPEN_SWAP_STATES: Final = frozenset(
    {SwapState.CLAIMED, SwapState.CANCELLED, SwapState.BUYING, SwapState.BOUGHT}
)
"""States a swap is resumed from (by whichever replica holds it, or after its hold)."""


@dataclass(frozen=True, slots=True)
class Swap:
    """One replacement, keyed by the order it replaces."""

    order_id: str
    user_id: int
    state: SwapState
    token: str | None
    new_order_id: str | None
    claimed_by: str
    claimed_until: datetime
    created_at: datetime
    updated_at: datetime


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
