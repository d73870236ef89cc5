"""The operator's console: /stats counts, the fleet's hourly counters, and broadcasts with
their recipients (rows and queries).

A broadcast's life: ``draft`` (previewed to the operator) → ``sending`` (confirmed: one
recipient row per user was written with it) → ``done`` or ``cancelled``; a draft the operator
drops, or replaces with a new one, is ``discarded``.

A recipient's life: ``pending`` → ``claimed`` (by the one sender, just before its send) →
``sent`` | ``blocked`` | ``failed`` | ``skipped`` (muted since the broadcast started); a
claim whose sender died before recording the outcome becomes ``unknown`` and is never sent
again (see :mod:`bot.broadcaster` for why).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from bot.store.base import TOKEN_BYTES, Repository, dt, opt_dt, ts
from bot.store.db import Row

__all__ = [
    "COUNTER_DAYS",
    "Broadcast",
    "BroadcastState",
    "ConsoleRepository",
    "Recipient",
    "RecipientState",
    "Tally",
    "UserCounts",
]

COUNTER_DAYS: Final = 2
"""How many days of the fleet's hourly counters are kept."""


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


def _hour(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment`` (a ``fleet_counters`` bucket)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _broadcast(row: Row) -> Broadcast:
    return Broadcast(
        id=row["id"],
        admin_id=row["admin_id"],
        text=row["text"],
        state=BroadcastState(row["state"]),
        progress_message_id=row["progress_message_id"],
        reported=bool(row["reported"]),
        created_at=dt(row["created_at"]),
        started_at=opt_dt(row["started_at"]),
        finished_at=opt_dt(row["finished_at"]),
    )


class ConsoleRepository(Repository):
    """The ``broadcasts``, ``broadcast_recipients`` and ``fleet_counters`` tables, and the
    counts over users, orders and deliveries that /stats and the metrics show."""

    __slots__ = ()

    async def count_active_orders(self) -> int:
        """How many orders :meth:`active_orders` would return."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS n FROM orders"
            " WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0"
        )
        return 0 if row is None else int(row["n"])

    async def count_pending_deliveries(self) -> int:
        """How many SMS are claimed but not yet sent."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS n FROM sms_deliveries WHERE state = 'pending'"
        )
        return 0 if row is None else int(row["n"])

    async def user_counts(self, active_since: datetime) -> UserCounts:
        """All users, those with a linked key, those seen since ``active_since``, blocked."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS total,"
            " COALESCE(SUM(CASE WHEN key_cipher IS NOT NULL THEN 1 ELSE 0 END), 0) AS linked,"
            " COALESCE(SUM(CASE WHEN last_seen_at >= ? THEN 1 ELSE 0 END), 0) AS active,"
            " COALESCE(SUM(CASE WHEN chat_active = 0 THEN 1 ELSE 0 END), 0) AS blocked"
            " FROM users",
            (ts(active_since),),
        )
        assert row is not None  # an aggregate always has a row
        return UserCounts(
            int(row["total"]), int(row["linked"]), int(row["active"]), int(row["blocked"])
        )

    async def count_orders_since(self, since: datetime) -> int:
        """Orders bought (stored) since ``since``."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS n FROM orders WHERE created_at >= ?", (ts(since),)
        )
        return 0 if row is None else int(row["n"])

    async def code_latencies(self, since: datetime) -> list[float]:
        """Seconds from each SMS's ``receivedAt`` to Telegram accepting its message, for the
        codes sent since ``since`` (SMS without a receipt time are left out)."""
        rows = await self._fetch(
            "SELECT received_at, sent_at FROM sms_deliveries"
            " WHERE sent_at IS NOT NULL AND sent_at >= ? AND received_at IS NOT NULL",
            (ts(since),),
        )
        return [
            max(0.0, (dt(row["sent_at"]) - dt(row["received_at"])).total_seconds()) for row in rows
        ]

    async def add_counters(self, hour: datetime, counts: Mapping[str, int]) -> None:
        """Add ``counts`` to the fleet-wide bucket of ``hour`` (every replica adds its own);
        buckets older than ``COUNTER_DAYS`` days go (/stats reads the last 24 hours)."""
        bucket = ts(_hour(hour))
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM fleet_counters WHERE hour < ?",
                (ts(_hour(hour) - timedelta(days=COUNTER_DAYS)),),
            )
            for name, value in sorted(counts.items()):
                if value:
                    await tx.execute(
                        "INSERT INTO fleet_counters (hour, name, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (hour, name) DO UPDATE"
                        " SET value = fleet_counters.value + excluded.value",
                        (bucket, name, value),
                    )

    async def sum_counters(self, since: datetime) -> dict[str, int]:
        """Each counter summed over the hourly buckets from the one holding ``since`` on."""
        rows = await self._fetch(
            "SELECT name, SUM(value) AS total FROM fleet_counters WHERE hour >= ? GROUP BY name",
            (ts(_hour(since)),),
        )
        return {row["name"]: int(row["total"]) for row in rows}

    async def count_codes_due(self) -> int:
        """Codes to send now or being sent: pending, not given up, to a reachable chat, and
        not waiting for a retry. Announcements wait while there are any; codes to a blocked
        chat, or waiting out a backoff, do not hold them up."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS n FROM sms_deliveries"
            " JOIN orders ON orders.id = sms_deliveries.order_id"
            " JOIN users ON users.telegram_id = orders.user_id"
            " WHERE sms_deliveries.state = 'pending' AND sms_deliveries.given_up = 0"
            " AND users.chat_active = 1"
            " AND (sms_deliveries.next_attempt_at IS NULL OR sms_deliveries.next_attempt_at <= ?)",
            (ts(self._now()),),
        )
        return 0 if row is None else int(row["n"])

    async def count_announcement_recipients(self) -> int:
        """Users a broadcast would go to now: the bot can write to them, and they listen."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS n FROM users WHERE chat_active = 1 AND announcements_muted = 0"
        )
        return 0 if row is None else int(row["n"])

    async def draft_broadcast(self, admin_id: int, text: str) -> Broadcast:
        """A new draft of ``admin_id``; their older drafts are discarded (one at a time)."""
        broadcast_id = secrets.token_urlsafe(TOKEN_BYTES)
        now = ts(self._now())
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE broadcasts SET state = 'discarded', updated_at = ?"
                " WHERE admin_id = ? AND state = 'draft'",
                (now, admin_id),
            )
            rows = await tx.fetch_returning(
                "INSERT INTO broadcasts (id, admin_id, text, state, created_at, updated_at)"
                " VALUES (?, ?, ?, 'draft', ?, ?) RETURNING *",
                (broadcast_id, admin_id, text, now, now),
            )
        return _broadcast(rows[0])

    async def get_broadcast(self, broadcast_id: str) -> Broadcast | None:
        row = await self._fetch_one("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return None if row is None else _broadcast(row)

    async def start_broadcast(
        self, broadcast_id: str, admin_id: int, progress_message_id: int
    ) -> int | None:
        """Confirm ``admin_id``'s draft: it becomes ``sending`` with one pending recipient row
        per user who would get it now, all in one transaction.

        Returns:
            The number of recipients; None if it is not that admin's draft (already started,
            cancelled, replaced, or never theirs).
        """
        now = ts(self._now())
        async with self._db.transaction() as tx:
            started = await tx.execute(
                "UPDATE broadcasts SET state = 'sending', progress_message_id = ?,"
                " started_at = ?, updated_at = ? WHERE id = ? AND admin_id = ? AND state = 'draft'",
                (progress_message_id, now, now, broadcast_id, admin_id),
            )
            if started != 1:
                return None
            return await tx.execute(
                "INSERT INTO broadcast_recipients (broadcast_id, user_id)"
                " SELECT CAST(? AS TEXT), telegram_id FROM users"
                " WHERE chat_active = 1 AND announcements_muted = 0",
                (broadcast_id,),
            )

    async def cancel_broadcast(self, broadcast_id: str, admin_id: int) -> BroadcastState | None:
        """Stop a broadcast of ``admin_id``: a draft is discarded, a running one cancelled
        (its pending recipients are not sent to). None if it was neither."""
        now = ts(self._now())
        rows = await self._write_returning(
            "UPDATE broadcasts SET"
            " state = CASE WHEN state = 'draft' THEN 'discarded' ELSE 'cancelled' END,"
            " finished_at = ?, updated_at = ?"
            " WHERE id = ? AND admin_id = ? AND state IN ('draft', 'sending') RETURNING state",
            (now, now, broadcast_id, admin_id),
        )
        return BroadcastState(rows[0]["state"]) if rows else None

    async def broadcasts_in_state(self, state: BroadcastState) -> list[Broadcast]:
        """Broadcasts in ``state``, oldest first."""
        rows = await self._fetch(
            "SELECT * FROM broadcasts WHERE state = ? ORDER BY created_at",
            (BroadcastState(state).value,),
        )
        return [_broadcast(row) for row in rows]

    async def unreported_broadcasts(self) -> list[Broadcast]:
        """Finished or cancelled broadcasts whose operator has not had the final report."""
        rows = await self._fetch(
            "SELECT * FROM broadcasts WHERE state IN ('done', 'cancelled') AND reported = 0"
            " AND started_at IS NOT NULL ORDER BY created_at"
        )
        return [_broadcast(row) for row in rows]

    async def claim_recipient(self, broadcast_id: str, holder: str) -> int | None:
        """Claim the next pending recipient of a sending broadcast, before sending to them.

        Returns:
            Their user id, or None when no recipient is pending (or the broadcast stopped).
        """
        rows = await self._write_returning(
            "UPDATE broadcast_recipients SET state = 'claimed', claimed_by = ?, claimed_at = ?"
            " WHERE broadcast_id = ? AND state = 'pending' AND user_id = ("
            " SELECT user_id FROM broadcast_recipients"
            " WHERE broadcast_id = ? AND state = 'pending' ORDER BY user_id LIMIT 1)"
            " AND EXISTS (SELECT 1 FROM broadcasts WHERE id = ? AND state = 'sending')"
            " RETURNING user_id",
            (holder, ts(self._now()), broadcast_id, broadcast_id, broadcast_id),
        )
        return int(rows[0]["user_id"]) if rows else None

    async def settle_recipient(
        self,
        broadcast_id: str,
        user_id: int,
        holder: str,
        state: RecipientState,
        message_id: int | None = None,
    ) -> bool:
        """Record the outcome of ``holder``'s send (also over an ``unknown`` set meanwhile, so
        a slow sender that did deliver still records it). ``pending`` hands the claim back
        (Telegram said "retry later": nothing was delivered); ``unknown``: the request went
        out and no answer came back, so it may have been delivered."""
        if state is RecipientState.CLAIMED:
            raise ValueError(f"cannot settle a recipient as {state!r}")
        changed = await self._write(
            "UPDATE broadcast_recipients SET state = ?, message_id = ?"
            " WHERE broadcast_id = ? AND user_id = ? AND claimed_by = ?"
            " AND state IN ('claimed', 'unknown')",
            (RecipientState(state).value, message_id, broadcast_id, user_id, holder),
        )
        return changed == 1

    async def expire_recipient_claims(self, broadcast_id: str, older_than: timedelta) -> int:
        """Claims older than ``older_than`` whose sender never settled them become
        ``unknown``: that sender died around its send, which may have reached the user.

        Returns:
            How many claims expired.
        """
        return await self._write(
            "UPDATE broadcast_recipients SET state = 'unknown'"
            " WHERE broadcast_id = ? AND state = 'claimed' AND claimed_at < ?",
            (broadcast_id, ts(self._now() - older_than)),
        )

    async def tally(self, broadcast_id: str) -> Tally:
        rows = await self._fetch(
            "SELECT state, COUNT(*) AS n FROM broadcast_recipients WHERE broadcast_id = ?"
            " GROUP BY state",
            (broadcast_id,),
        )
        return Tally(**{row["state"]: int(row["n"]) for row in rows})

    async def finish_broadcast(self, broadcast_id: str) -> bool:
        """``sending`` → ``done`` once no recipient is pending or claimed. True if it moved."""
        now = ts(self._now())
        changed = await self._write(
            "UPDATE broadcasts SET state = 'done', finished_at = ?, updated_at = ?"
            " WHERE id = ? AND state = 'sending' AND NOT EXISTS ("
            " SELECT 1 FROM broadcast_recipients"
            " WHERE broadcast_id = ? AND state IN ('pending', 'claimed'))",
            (now, now, broadcast_id, broadcast_id),
        )
        return changed == 1

    async def claim_report(self, broadcast_id: str) -> bool:
        """Claim the sending of a finished broadcast's final report; True for one caller."""
        changed = await self._write(
            "UPDATE broadcasts SET reported = 1, updated_at = ?"
            " WHERE id = ? AND reported = 0 AND state IN ('done', 'cancelled')",
            (ts(self._now()), broadcast_id),
        )
        return changed == 1
