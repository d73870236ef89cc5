"""Rows of the operator's console (issue 15), returned by :class:`bot.store.Store`.

A broadcast's life: ``draft`` (previewed to the operator) → ``sending`` (confirmed: one
recipient row per user was written with it) → ``done`` or ``cancelled``; a draft the operator
drops, or replaces with a new one, is ``discarded``.

A recipient's life: ``pending`` → ``claimed`` (by the one sender, just before its send) →
``sent`` | ``blocked`` | ``failed`` | ``skipped`` (muted since the broadcast started); a
claim whose sender died before recording the outcome becomes ``unknown`` and is never sent
again (see :mod:`bot.broadcaster` for why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Broadcast",
    "BroadcastState",
    "Recipient",
    "RecipientState",
    "Tally",
    "UserCounts",
]


class BroadcastState(StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    CANCELLED = "cancelled"
    DONE = "done"
    DISCARDED = "discarded"


class RecipientState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An announcement: ``text`` is Telegram HTML, checked by Telegram in the preview."""

    id: str
    admin_id: int
    text: str
    state: BroadcastState
    progress_message_id: int | None
    reported: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One user's copy of a broadcast, claimed by the sender before it is sent."""

    broadcast_id: str
    user_id: int
    state: RecipientState


@dataclass(frozen=True, slots=True)
class Tally:
    """Where a broadcast's recipients stand."""

    pending: int = 0
    claimed: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.claimed + self.done

    @property
    def done(self) -> int:
        """Recipients whose outcome is settled."""
        return self.sent + self.blocked + self.failed + self.skipped + self.unknown


@dataclass(frozen=True, slots=True)
class UserCounts:
    """The users table at a glance."""

    total: int
    linked: int
    active: int
    blocked: int
