"""How replicas share the work: named leases with an expiry, replica heartbeats, and claims
on webhook updates so that a redelivered update is handled once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final, Literal

from bot.store.base import Repository, ts

__all__ = ["POLLED_BY", "POLL_PREFIX", "CoordinationRepository", "polled_by_args"]

POLL_PREFIX: Final = "poll:"
"""Lease names of keys being polled: ``poll:<telegram user id>`` (one key per user)."""
POLLED_BY: Final = (
    "SELECT CAST(substr(name, ?) AS BIGINT) FROM leases"
    " WHERE holder = ? AND expires_at > ? AND substr(name, 1, ?) = ?"
)
"""A subquery: the ids of the users whose keys a replica polls (its live poll leases), read
along ``leases_by_holder``; its arguments are :func:`polled_by_args`."""


def polled_by_args(replica: str, now: datetime) -> tuple[object, ...]:
    """The arguments of :data:`POLLED_BY` for ``replica`` at ``now``."""
    return (len(POLL_PREFIX) + 1, replica, ts(now), len(POLL_PREFIX), POLL_PREFIX)


class CoordinationRepository(Repository):
    """The ``leases``, ``replicas`` and ``webhook_updates`` tables."""

    __slots__ = ()

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take the lease ``name`` for ``ttl``: free, expired, or already ``holder``'s (renewed).

        One statement, so of several replicas racing for a free lease exactly one wins.

        Returns:
            True if ``holder`` now holds it.
        """
        now = self._now()
        rows = await self._write_returning(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE"
            " SET holder = excluded.holder, expires_at = excluded.expires_at"
            " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?"
            " RETURNING name",
            (name, holder, ts(now + ttl), ts(now)),
        )
        return bool(rows)

    async def renew_leases(self, holder: str, ttl: timedelta) -> set[str]:
        """Extend all of ``holder``'s unexpired leases to now + ``ttl``.

        Returns:
            The names it still holds (an expired one may have been taken over: not renewed).
        """
        now = self._now()
        rows = await self._write_returning(
            "UPDATE leases SET expires_at = ? WHERE holder = ? AND expires_at > ? RETURNING name",
            (ts(now + ttl), holder, ts(now)),
        )
        return {row["name"] for row in rows}

    async def release_leases(self, holder: str, names: Iterable[str] | None = None) -> None:
        """Give up ``holder``'s leases ``names`` (None: all of them); others' are untouched."""
        if names is None:
            await self._write("DELETE FROM leases WHERE holder = ?", (holder,))
            return
        wanted = sorted(set(names))
        if not wanted:
            return
        marks = ", ".join("?" * len(wanted))
        await self._write(
            f"DELETE FROM leases WHERE holder = ? AND name IN ({marks})",  # noqa: S608
            (holder, *wanted),
        )

    async def release_lease(self, name: str, holder: str) -> None:
        """Give up the lease ``name`` if ``holder`` holds it."""
        await self._write("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def live_leases(self, prefix: str = "") -> dict[str, str]:
        """Unexpired leases whose name starts with ``prefix``: name → holder."""
        rows = await self._fetch(
            "SELECT name, holder FROM leases WHERE expires_at > ? AND substr(name, 1, ?) = ?",
            (ts(self._now()), len(prefix), prefix),
        )
        return {row["name"]: row["holder"] for row in rows}

    async def heartbeat(self, replica_id: str) -> None:
        """Record that the replica is alive now (registering it on its first beat)."""
        now = ts(self._now())
        await self._write(
            "INSERT INTO replicas (id, started_at, heartbeat_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (replica_id, now, now),
        )

    async def live_replicas(self, within: timedelta) -> list[str]:
        """Ids of the replicas that beat within ``within`` of now, sorted."""
        rows = await self._fetch(
            "SELECT id FROM replicas WHERE heartbeat_at >= ?", (ts(self._now() - within),)
        )
        # Sorted here: PostgreSQL's ORDER BY follows the database's collation, SQLite's not.
        return sorted(row["id"] for row in rows)

    async def drop_replica(self, replica_id: str) -> None:
        """Forget a replica that is shutting down (its leases are released separately)."""
        await self._write("DELETE FROM replicas WHERE id = ?", (replica_id,))

    async def claim_update(
        self, update_id: int, holder: str, stale_after: timedelta
    ) -> Literal["claimed", "done", "busy"]:
        """Claim a webhook update before handling it, so that a redelivery is handled once.

        Returns:
            ``"claimed"``: the caller must handle it (new, or claimed more than
            ``stale_after`` ago and never finished: its handler died). ``"done"``: handled
            already. ``"busy"``: claimed recently and not finished: being handled now (by
            any holder, this one included).
        """
        now = self._now()
        async with self._db.transaction() as tx:
            claimed = await tx.fetch_returning(
                "INSERT INTO webhook_updates (update_id, holder, claimed_at, done)"
                " VALUES (?, ?, ?, 0)"
                " ON CONFLICT (update_id) DO UPDATE"
                " SET holder = excluded.holder, claimed_at = excluded.claimed_at"
                " WHERE webhook_updates.done = 0 AND webhook_updates.claimed_at <= ?"
                " RETURNING update_id",
                (update_id, holder, ts(now), ts(now - stale_after)),
            )
            if claimed:
                return "claimed"
            row = await tx.fetch_one(
                "SELECT done FROM webhook_updates WHERE update_id = ?", (update_id,)
            )
        return "done" if row is not None and row["done"] else "busy"

    async def finish_update(self, update_id: int) -> None:
        """Record that the claimed update was handled."""
        await self._write("UPDATE webhook_updates SET done = 1 WHERE update_id = ?", (update_id,))

    async def prune_updates(self, older_than: timedelta) -> int:
        """Forget updates claimed more than ``older_than`` ago (Telegram stopped resending).

        Returns:
            How many were deleted.
        """
        return await self._write(
            "DELETE FROM webhook_updates WHERE claimed_at < ?", (ts(self._now() - older_than),)
        )
