"""The outbox of SMS codes: one row per SMS to push to its chat, claimed by one sender at a
time, sent in the order the SMS arrived, rescheduled after a failed send and given up after
two sends of unknown outcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from bot.store.base import Repository, dt, opt_dt, opt_ts, ts
from bot.store.coordination import POLL_PREFIX
from bot.store.db import Row
from bot.store.models import Delivery, DeliveryState

__all__ = ["OutboxRepository"]

_CHAT_QUEUE: Final = (
    "SELECT d.*, o.user_id FROM sms_deliveries d"
    " JOIN orders o ON o.id = d.order_id JOIN users u ON u.telegram_id = o.user_id"
    " WHERE o.user_id = ? AND u.chat_active = 1"
    " AND d.state = 'pending' AND d.given_up = 0"
    " ORDER BY COALESCE(d.received_at, d.created_at), d.order_id, d.position"
    " LIMIT ?"
)
"""The next pending codes of one chat, in the order the SMS arrived."""
_CHAT_QUEUE_LOCKED: Final = _CHAT_QUEUE + " FOR UPDATE OF d"
"""The same, rows locked: PostgreSQL runs writers concurrently (SQLite's BEGIN IMMEDIATE
already serializes them)."""
_DUE_SENDS: Final = (
    "SELECT user_id FROM ("
    " SELECT o.user_id AS user_id, MIN(COALESCE(d.received_at, d.created_at)) AS first"
    " FROM sms_deliveries d JOIN orders o ON o.id = d.order_id"
    " JOIN users u ON u.telegram_id = o.user_id"
    " WHERE d.state = 'pending' AND d.given_up = 0 AND u.chat_active = 1"
    " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?)"
    " AND (d.claimed_until IS NULL OR d.claimed_until <= ?)"
    " GROUP BY o.user_id"
    " UNION ALL"
    " SELECT o.user_id, '~' FROM orders o JOIN users u ON u.telegram_id = o.user_id"
    " WHERE o.card_retry_at IS NOT NULL AND o.card_retry_at <= ? AND u.chat_active = 1"
    ") due WHERE NOT EXISTS (SELECT 1 FROM leases l"
    " WHERE l.name = ? || CAST(due.user_id AS TEXT) AND l.holder <> ? AND l.expires_at > ?)"
    " ORDER BY first"
)
"""Users with codes due (earliest SMS first) or stale cards, not polled by another replica."""


def _delivery(row: Row) -> Delivery:
    return Delivery(
        order_id=row["order_id"],
        position=row["position"],
        body=row["body"],
        received_at=opt_dt(row["received_at"]),
        state=DeliveryState(row["state"]),
        message_id=row["message_id"],
        created_at=dt(row["created_at"]),
        attempts=row["attempts"],
        doubtful=row["doubtful"],
        given_up=bool(row["given_up"]),
        user_id=row["user_id"] if "user_id" in row.keys() else None,  # noqa: SIM118 (a Row)
    )


class OutboxRepository(Repository):
    """The ``sms_deliveries`` table."""

    __slots__ = ()

    async def claim_delivery(
        self,
        order_id: str,
        position: int,
        body: str,
        received_at: datetime | None,
        *,
        claimant: str | None = None,
        lease_until: datetime | None = None,
    ) -> bool:
        """Record the SMS at ``position`` of the order, to be delivered to the user.

        Args:
            claimant: The sender that will send it right away; it holds the row until
                ``lease_until`` (without one, the row is due for the outbox at once).

        Returns:
            True for the one caller that should send it; False if it was already recorded.
        """
        changed = await self._write(
            "INSERT INTO sms_deliveries (order_id, position, body, received_at, created_at,"
            " claimed_by, claimed_until)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id, position) DO NOTHING",
            (
                order_id,
                position,
                body,
                opt_ts(received_at),
                ts(self._now()),
                claimant,
                opt_ts(lease_until),
            ),
        )
        return changed == 1

    async def mark_delivered(self, order_id: str, position: int, message_id: int) -> bool:
        """Record that the claimed SMS reached the user. True if it was pending."""
        changed = await self._write(
            "UPDATE sms_deliveries SET state = 'sent', message_id = ?, attempts = attempts + 1,"
            " claimed_by = NULL, claimed_until = NULL, sent_at = ?"
            " WHERE order_id = ? AND position = ? AND state = 'pending'",
            (message_id, ts(self._now()), order_id, position),
        )
        return changed == 1

    async def pending_deliveries(self) -> list[Delivery]:
        """SMS recorded but not (yet) sent, and not given up, in the order they arrived."""
        rows = await self._fetch(
            "SELECT * FROM sms_deliveries WHERE state = 'pending' AND given_up = 0"
        )
        return sorted((_delivery(row) for row in rows), key=lambda d: d.sort_key)

    async def claim_due_deliveries(
        self,
        claimant: str,
        now: datetime,
        lease_until: datetime,
        *,
        user_id: int,
        limit: int = 10,
    ) -> list[Delivery]:
        """Claim the next pending SMS of one reachable chat, oldest SMS first.

        A chat's codes form a queue in the order the SMS arrived: nothing is claimed while
        its first code waits for a retry, or while another sender holds one of the first
        ``limit``, so a later code never overtakes an earlier one.

        A row whose previous claim expired unresolved (its sender died mid-send) counts as
        one more doubtful send; a row that reaches two doubtful sends is given up instead
        of claimed (the user may already have it twice).
        """
        at = ts(now)
        claimed: list[Delivery] = []
        # PostgreSQL runs writers concurrently: lock the chat's rows while deciding (SQLite's
        # BEGIN IMMEDIATE already serializes writers).
        queue = _CHAT_QUEUE_LOCKED if self.dialect == "postgresql" else _CHAT_QUEUE
        async with self._db.transaction() as tx:
            while True:
                rows = await tx.fetch(queue, (user_id, limit))
                held = any(r["claimed_until"] is not None and r["claimed_until"] > at for r in rows)
                if not rows or held or (rows[0]["next_attempt_at"] or "") > at:
                    return []
                given_up = False
                for row in rows:
                    died = row["claimed_by"] is not None
                    if died and row["doubtful"] >= 1:
                        await tx.execute(
                            "UPDATE sms_deliveries SET given_up = 1, doubtful = doubtful + 1,"
                            " claimed_by = NULL, claimed_until = NULL"
                            " WHERE order_id = ? AND position = ?",
                            (row["order_id"], row["position"]),
                        )
                        given_up = True
                        continue
                    await tx.execute(
                        "UPDATE sms_deliveries SET claimed_by = ?, claimed_until = ?,"
                        " doubtful = doubtful + ? WHERE order_id = ? AND position = ?",
                        (claimant, ts(lease_until), int(died), row["order_id"], row["position"]),
                    )
                    claimed.append(replace(_delivery(row), doubtful=row["doubtful"] + int(died)))
                if claimed or not given_up:
                    return claimed

    async def reschedule_delivery(
        self, order_id: str, position: int, claimant: str, at: datetime, *, doubtful: bool
    ) -> bool:
        """A send failed: release the claim and try again at ``at``.

        ``doubtful``: the outcome is unknown (it may have been delivered). The second
        doubtful send gives the push up.

        Returns:
            True if the row stays pending (False: given up, or not held by ``claimant``).
        """
        rows = await self._write_returning(
            "UPDATE sms_deliveries SET attempts = attempts + 1, doubtful = doubtful + ?,"
            " given_up = CASE WHEN doubtful + ? >= 2 THEN 1 ELSE 0 END, next_attempt_at = ?,"
            " claimed_by = NULL, claimed_until = NULL"
            " WHERE order_id = ? AND position = ? AND state = 'pending' AND claimed_by = ?"
            " RETURNING given_up",
            (int(doubtful), int(doubtful), ts(at), order_id, position, claimant),
        )
        return bool(rows) and not rows[0]["given_up"]

    async def release_delivery(self, order_id: str, position: int, claimant: str) -> None:
        """Give the claim back without counting an attempt: the user blocked the bot (the
        row waits, due, until they are reachable again)."""
        await self._write(
            "UPDATE sms_deliveries SET claimed_by = NULL, claimed_until = NULL"
            " WHERE order_id = ? AND position = ? AND claimed_by = ?",
            (order_id, position, claimant),
        )

    async def expire_claims(self, claimant: str, now: datetime) -> int:
        """End every claim ``claimant`` holds (it restarted: those sends died with it)."""
        return await self._write(
            "UPDATE sms_deliveries SET claimed_until = ?"
            " WHERE claimed_by = ? AND state = 'pending' AND claimed_until > ?",
            (ts(now), claimant, ts(now)),
        )

    async def expire_claims_of_dead_replicas(self, within: timedelta) -> int:
        """End the claims of every replica whose last beat is older than ``within`` (killed).

        A claim outlives its holder by up to its whole lease (long enough for a chat's batch
        of paced sends), which would hold that chat's codes back long after another replica
        took the key over. Ending it makes the codes due now; each counts as one unknown
        outcome (it may have been sent), as after :meth:`expire_claims`. Only claimants in
        the ``replicas`` table are judged (a replica that stopped politely ended its own).
        """
        now = self._now()
        return await self._write(
            "UPDATE sms_deliveries SET claimed_until = ?"
            " WHERE state = 'pending' AND claimed_until > ?"
            " AND claimed_by IN (SELECT id FROM replicas WHERE heartbeat_at < ?)",
            (ts(now), ts(now), ts(now - within)),
        )

    async def users_with_due_sends(self, now: datetime, replica: str) -> list[int]:
        """Reachable users with codes due or stale cards to redraw, earliest SMS first.

        Users whose key another live replica polls are left out: that replica sends their
        codes, one at a time at the chat's pace, so the ones still waiting their turn look
        due. A second sender would keep a pace of its own, and the two together would
        outrun Telegram's limit for the chat. Once the holder dies its lease expires, and
        the replica that takes the key over sends what was left.
        """
        at = ts(now)
        rows = await self._fetch(_DUE_SENDS, (at, at, at, POLL_PREFIX, replica, at))
        return list(dict.fromkeys(int(row["user_id"]) for row in rows))

    async def give_up_delivery(self, order_id: str, position: int) -> None:
        """Telegram refused the push for good (a 4xx other than 403 and 429)."""
        await self._write(
            "UPDATE sms_deliveries SET given_up = 1, attempts = attempts + 1,"
            " claimed_by = NULL, claimed_until = NULL"
            " WHERE order_id = ? AND position = ? AND state = 'pending'",
            (order_id, position),
        )

    async def deliveries_for(self, order_id: str) -> list[Delivery]:
        rows = await self._fetch(
            "SELECT * FROM sms_deliveries WHERE order_id = ? ORDER BY position", (order_id,)
        )
        return [_delivery(row) for row in rows]
