"""The shop's per-user extras: favourite (service, country) pairs, price alerts with their
claim-before-send life, and the rate of the "top up" heads-up."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final, Literal

from bot.store.base import Repository, dt, opt_dt, ts
from bot.store.db import Executor, Params, Row
from bot.store.models import Alert, AlertState, Favourite

__all__ = ["FavouriteAdded", "ShopRepository"]

FavouriteAdded = Literal["added", "exists", "full"]
_ALERT_ID_BYTES: Final = 6  # 8 URL-safe characters in callback data


def _favourite(row: Row) -> Favourite:
    return Favourite(
        user_id=row["user_id"],
        service=row["service"],
        service_name=row["service_name"],
        country_id=row["country_id"],
        country_slug=row["country_slug"],
        created_at=dt(row["created_at"]),
    )


def _alert(row: Row) -> Alert:
    return Alert(
        id=row["id"],
        user_id=row["user_id"],
        service=row["service"],
        service_name=row["service_name"],
        country_id=row["country_id"],
        country_slug=row["country_slug"],
        state=AlertState(row["state"]),
        created_at=dt(row["created_at"]),
        expires_at=dt(row["expires_at"]),
        claimed_at=opt_dt(row["claimed_at"]),
        fired_at=opt_dt(row["fired_at"]),
        price_cents=row["price_cents"],
    )


class ShopRepository(Repository):
    """The ``favourites`` and ``alerts`` tables, and ``users.topup_hint_at``."""

    __slots__ = ()

    async def _lock_user(self, tx: Executor, user_id: int) -> bool:
        """Serialise the transactions that check one user's limit (portable row lock).

        PostgreSQL locks the updated row until commit; SQLite's write transaction locks the
        whole file anyway. False if the user does not exist.
        """
        changed = await tx.execute(
            "UPDATE users SET updated_at = updated_at WHERE telegram_id = ?", (user_id,)
        )
        return changed == 1

    async def add_favourite(
        self,
        user_id: int,
        service: str,
        service_name: str,
        country_id: str,
        country_slug: str,
        *,
        limit: int,
    ) -> FavouriteAdded:
        """Save (service, country) for the user, unless they already have ``limit`` of them.

        Returns:
            ``"added"``, ``"exists"`` (nothing changed) or ``"full"`` (nothing saved).
        """
        async with self._db.transaction() as tx:
            if not await self._lock_user(tx, user_id):
                raise ValueError(f"unknown user {user_id}")
            row = await tx.fetch_one(
                "SELECT COUNT(*) AS n,"
                " SUM(CASE WHEN service = ? AND country_id = ? THEN 1 ELSE 0 END) AS same"
                " FROM favourites WHERE user_id = ?",
                (service, country_id, user_id),
            )
            count, same = (int(row["n"]), int(row["same"] or 0)) if row else (0, 0)
            if same:
                return "exists"
            if count >= limit:
                return "full"
            await tx.execute(
                "INSERT INTO favourites (user_id, service, country_id, service_name,"
                " country_slug, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, service, country_id, service_name, country_slug, ts(self._now())),
            )
        return "added"

    async def remove_favourite(self, user_id: int, service: str, country_id: str) -> bool:
        """Forget one favourite of the user; False if they did not have it."""
        changed = await self._write(
            "DELETE FROM favourites WHERE user_id = ? AND service = ? AND country_id = ?",
            (user_id, service, country_id),
        )
        return changed == 1

    async def favourites(self, user_id: int) -> list[Favourite]:
        """The user's favourites, oldest first (the order they are shown in)."""
        rows = await self._fetch(
            "SELECT * FROM favourites WHERE user_id = ? ORDER BY created_at, service, country_id",
            (user_id,),
        )
        return [_favourite(row) for row in rows]

    async def is_favourite(self, user_id: int, service: str, country_id: str) -> bool:
        row = await self._fetch_one(
            "SELECT 1 AS yes FROM favourites WHERE user_id = ? AND service = ? AND country_id = ?",
            (user_id, service, country_id),
        )
        return row is not None

    async def add_alert(
        self,
        user_id: int,
        service: str,
        service_name: str,
        country_id: str,
        country_slug: str,
        *,
        lifetime: timedelta,
        limit: int,
    ) -> tuple[Alert | None, bool]:
        """Watch (service, country) for the user for ``lifetime``.

        Returns:
            ``(alert, True)`` for a new alert; ``(alert, False)`` when the user already
            watches the pair (that alert, unchanged); ``(None, False)`` when the user has
            ``limit`` live alerts already.
        """
        now = self._now()
        async with self._db.transaction() as tx:
            if not await self._lock_user(tx, user_id):
                raise ValueError(f"unknown user {user_id}")
            await self._expire_alerts(tx, now, user_id)
            row = await tx.fetch_one(
                "SELECT * FROM alerts WHERE user_id = ? AND service = ? AND country_id = ?"
                " AND state IN ('active', 'firing')",
                (user_id, service, country_id),
            )
            if row is not None:
                return _alert(row), False
            row = await tx.fetch_one(
                "SELECT COUNT(*) AS n FROM alerts WHERE user_id = ? AND state = 'active'",
                (user_id,),
            )
            if row is not None and int(row["n"]) >= limit:
                return None, False
            rows = await tx.fetch_returning(
                "INSERT INTO alerts (id, user_id, service, service_name, country_id,"
                " country_slug, state, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?) RETURNING *",
                (
                    secrets.token_urlsafe(_ALERT_ID_BYTES),
                    user_id,
                    service,
                    service_name,
                    country_id,
                    country_slug,
                    ts(now),
                    ts(now + lifetime),
                ),
            )
        return _alert(rows[0]), True

    async def user_alerts(self, user_id: int) -> list[Alert]:
        """The user's alerts still waiting (not fired, cancelled or expired), oldest first."""
        rows = await self._fetch(
            "SELECT * FROM alerts WHERE user_id = ? AND state = 'active' AND expires_at > ?"
            " ORDER BY created_at",
            (user_id, ts(self._now())),
        )
        return [_alert(row) for row in rows]

    async def get_alert(self, alert_id: str) -> Alert | None:
        row = await self._fetch_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return None if row is None else _alert(row)

    async def cancel_alert(self, user_id: int, alert_id: str) -> bool:
        """Cancel a waiting alert of the user (ownership checked here). True if it was."""
        changed = await self._write(
            "UPDATE alerts SET state = 'cancelled'"
            " WHERE id = ? AND user_id = ? AND state = 'active'",
            (alert_id, user_id),
        )
        return changed == 1

    async def alerts_to_check(self, *, refire_after: timedelta) -> list[Alert]:
        """What the watcher checks: waiting alerts, and claims whose send was never recorded.

        A claim older than ``refire_after`` belongs to a process that died between claiming
        and recording the send: it is checked (and may be sent) again.
        """
        now = self._now()
        rows = await self._fetch(
            "SELECT * FROM alerts WHERE (state = 'active' AND expires_at > ?)"
            " OR (state = 'firing' AND claimed_at < ?) ORDER BY created_at",
            (ts(now), ts(now - refire_after)),
        )
        return [_alert(row) for row in rows]

    async def claim_alert(
        self, alert_id: str, price_cents: int, *, refire_after: timedelta
    ) -> bool:
        """Claim an alert for sending, before it is sent. True for exactly one caller.

        Wins on a waiting, unexpired alert, or on a claim older than ``refire_after``.
        """
        now = self._now()
        changed = await self._write(
            "UPDATE alerts SET state = 'firing', claimed_at = ?, price_cents = ?"
            " WHERE id = ? AND ((state = 'active' AND expires_at > ?)"
            " OR (state = 'firing' AND claimed_at < ?))",
            (ts(now), price_cents, alert_id, ts(now), ts(now - refire_after)),
        )
        return changed == 1

    async def finish_alert(self, alert_id: str, *, sent: bool) -> bool:
        """Settle a claim: ``sent`` for good, or back to waiting (the user was unreachable)."""
        if sent:
            sql = "UPDATE alerts SET state = 'sent', fired_at = ? WHERE id = ? AND state = 'firing'"
            params: Params = (ts(self._now()), alert_id)
        else:
            sql = (
                "UPDATE alerts SET state = 'active', claimed_at = NULL, price_cents = NULL"
                " WHERE id = ? AND state = 'firing'"
            )
            params = (alert_id,)
        return await self._write(sql, params) == 1

    async def expire_alerts(self) -> int:
        """Mark waiting alerts past their end as expired; returns how many."""
        async with self._db.transaction() as tx:
            return await self._expire_alerts(tx, self._now(), None)

    async def _expire_alerts(self, tx: Executor, now: datetime, user_id: int | None) -> int:
        return await tx.execute(
            "UPDATE alerts SET state = 'expired' WHERE state = 'active' AND expires_at <= ?"
            " AND user_id = COALESCE(?, user_id)",
            (ts(now), user_id),
        )

    async def topup_hint_due(self, user_id: int, every: timedelta) -> bool:
        """Whether the user may get the "top up" heads-up now (none within ``every``)."""
        row = await self._fetch_one(
            "SELECT topup_hint_at FROM users WHERE telegram_id = ?", (user_id,)
        )
        if row is None:
            return False
        last = row["topup_hint_at"]
        return last is None or dt(last) <= self._now() - every

    async def claim_topup_hint(self, user_id: int, every: timedelta) -> bool:
        """Record the heads-up as given now, unless one was within ``every``. True once."""
        now = self._now()
        changed = await self._write(
            "UPDATE users SET topup_hint_at = ?"
            " WHERE telegram_id = ? AND (topup_hint_at IS NULL OR topup_hint_at <= ?)",
            (ts(now), user_id, ts(now - every)),
        )
        return changed == 1
