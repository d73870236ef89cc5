"""Announcements to every user (``/broadcast``) and their opt-out.

The operator's text is previewed to them first (Telegram validates its HTML there), then
kept as a draft; confirming it writes one recipient row per user who would get it (reachable
and not muted) in the same transaction, and :mod:`bot.broadcaster` sends them in the
background. Only operators reach the draft/start/cancel use cases (the handlers check), and
each also checks the broadcast belongs to the operator pressing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store import Store
from bot.store.console import BroadcastState, Tally

__all__ = [
    "BroadcastService",
    "Cancelled",
    "Discarded",
    "Drafted",
    "NotRunning",
    "Started",
]


@dataclass(frozen=True, slots=True)
class Drafted:
    """The operator's text is kept; ``recipients`` would get it if sent now."""

    broadcast_id: str
    recipients: int


@dataclass(frozen=True, slots=True)
class Started:
    """The broadcast is confirmed: ``recipients`` rows wait for the sender."""

    broadcast_id: str
    recipients: int

    @property
    def tally(self) -> Tally:
        """Where it stands as it starts: everyone pending."""
        return Tally(pending=self.recipients)


@dataclass(frozen=True, slots=True)
class Discarded:
    """A draft was dropped before anything was sent."""


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A running broadcast stops; the sender reports what was sent."""


@dataclass(frozen=True, slots=True)
class NotRunning:
    """Nothing to confirm or stop: already started, finished, replaced, or not theirs."""


class BroadcastService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def draft(self, admin_id: int, text: str) -> Drafted:
        """Keep ``text`` (already accepted by Telegram in the preview) as the admin's draft."""
        broadcast = await self._store.draft_broadcast(admin_id, text)
        return Drafted(broadcast.id, await self._store.count_announcement_recipients())

    async def start(
        self, admin_id: int, broadcast_id: str, progress_message_id: int
    ) -> Started | NotRunning:
        """Confirm the draft; ``progress_message_id`` is the message the sender keeps current."""
        count = await self._store.start_broadcast(broadcast_id, admin_id, progress_message_id)
        return NotRunning() if count is None else Started(broadcast_id, count)

    async def cancel(self, admin_id: int, broadcast_id: str) -> Discarded | Cancelled | NotRunning:
        state = await self._store.cancel_broadcast(broadcast_id, admin_id)
        if state is BroadcastState.DISCARDED:
            return Discarded()
        if state is BroadcastState.CANCELLED:
            return Cancelled()
        return NotRunning()

    async def set_muted(self, user_id: int, muted: bool) -> bool:
        """Mute or unmute the user's announcements (codes and orders are never affected).

        Returns:
            Whether announcements are muted now.
        """
        await self._store.set_announcements_muted(user_id, muted)
        return muted
