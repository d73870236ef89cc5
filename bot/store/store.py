"""The bot's SQLite database: plain SQL over one aiosqlite connection.

Every public method commits before it returns, so what it wrote survives a crash of the
process right after. All statements go through one ``asyncio.Lock`` and every write runs in
``BEGIN IMMEDIATE … COMMIT``: with a single shared connection, a statement from another task
must never land inside someone else's open transaction (it would be committed or rolled back
with it), and multi-statement operations must be all-or-nothing.

The database belongs to one bot process (SQLite's own locking still protects the file, and
``busy_timeout`` covers short outside access such as a backup).
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import aiosqlite

from bot.store.migrations import migrate
from bot.store.models import (
    Delivery,
    DeliveryState,
    Purchase,
    PurchaseState,
    StoredOrder,
    User,
)

__all__ = ["PURCHASE_TTL", "PtbDataKind", "Store"]

PURCHASE_TTL: Final = timedelta(minutes=10)
"""How long a purchase confirmation button stays valid (prices and stock move)."""

PtbDataKind = Literal["user", "chat"]

_FINISHED_PURCHASE: Final = frozenset(
    {PurchaseState.DONE, PurchaseState.FAILED, PurchaseState.UNKNOWN}
)
_TOKEN_BYTES: Final = 9  # 12 URL-safe characters: 72 random bits, tiny in callback_data

_Params = Sequence[object]


def _ts(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _opt_ts(moment: datetime | None) -> str | None:
    return None if moment is None else _ts(moment)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _opt_dt(text: str | None) -> datetime | None:
    return None if text is None else _dt(text)


def _user(row: sqlite3.Row) -> User:
    return User(
        telegram_id=row["telegram_id"],
        language=row["language"],
        key_cipher=row["key_cipher"],
        key_fingerprint=row["key_fingerprint"],
        display_name=row["display_name"],
        chat_active=bool(row["chat_active"]),
        key_revoked=bool(row["key_revoked"]),
        created_at=_dt(row["created_at"]),
        updated_at=_dt(row["updated_at"]),
    )


def _order(row: sqlite3.Row) -> StoredOrder:
    return StoredOrder(
        id=row["id"],
        user_id=row["user_id"],
        key_fingerprint=row["key_fingerprint"],
        service=row["service"],
        service_name=row["service_name"],
        country_id=row["country_id"],
        country_slug=row["country_slug"],
        phone=row["phone"],
        status=row["status"],
        expires_at=_opt_dt(row["expires_at"]),
        charged_cents=row["charged_cents"],
        card_message_id=row["card_message_id"],
        card_hash=row["card_hash"],
        card_retry_at=_opt_dt(row["card_retry_at"]),
        sms_seen=row["sms_seen"],
        final_notified=bool(row["final_notified"]),
        created_at=_dt(row["created_at"]),
        updated_at=_dt(row["updated_at"]),
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        order_id=row["order_id"],
        position=row["position"],
        body=row["body"],
        received_at=_opt_dt(row["received_at"]),
        state=DeliveryState(row["state"]),
        message_id=row["message_id"],
        created_at=_dt(row["created_at"]),
        attempts=row["attempts"],
        doubtful=row["doubtful"],
        given_up=bool(row["given_up"]),
        user_id=row["user_id"] if "user_id" in row.keys() else None,  # noqa: SIM118
    )


def _purchase(row: sqlite3.Row) -> Purchase:
    return Purchase(
        token=row["token"],
        user_id=row["user_id"],
        service=row["service"],
        service_name=row["service_name"],
        country_id=row["country_id"],
        country_slug=row["country_slug"],
        price_cents=row["price_cents"],
        state=PurchaseState(row["state"]),
        order_id=row["order_id"],
        created_at=_dt(row["created_at"]),
        updated_at=_dt(row["updated_at"]),
    )


class Store:
    """Async access to the bot's database. Create it with :meth:`open`."""

    __slots__ = ("_db", "_last_now", "_lock")

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._last_now = datetime.min.replace(tzinfo=UTC)

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date.

        Args:
            path: Database file; its parent directory is created. ``":memory:"`` gives a
                throw-away in-memory database.
        """
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            for pragma in (
                "journal_mode = WAL",
                "synchronous = NORMAL",
                "foreign_keys = ON",
                "busy_timeout = 5000",
            ):
                await db.execute(f"PRAGMA {pragma}")
            await migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        """Close the connection; waits for a running operation to finish first."""
        async with self._lock:
            await self._db.close()

    # -- plumbing ------------------------------------------------------------------------

    def _now(self) -> datetime:
        """Current UTC time, strictly increasing within this store.

        Two writes in the same clock tick still get distinct, ordered timestamps, which
        keeps "newest first" queries deterministic.
        """
        now = datetime.now(UTC)
        if now <= self._last_now:
            now = self._last_now + timedelta(microseconds=1)
        self._last_now = now
        return now

    async def _fetch(self, sql: str, params: _Params = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def _fetch_one(self, sql: str, params: _Params = ()) -> sqlite3.Row | None:
        rows = await self._fetch(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                # Inside the try: if the caller is cancelled while BEGIN is queued, BEGIN still
                # runs on aiosqlite's thread, and the rollback queued after it must undo it.
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
            except BaseException:
                await self._db.rollback()  # a no-op when no transaction is open
                raise
            await self._db.commit()

    async def _write(self, sql: str, params: _Params = ()) -> int:
        """Run one data-changing statement in its own transaction; return the rows changed."""
        async with self._transaction() as db, db.execute(sql, params) as cursor:
            return cursor.rowcount

    async def _write_returning(self, sql: str, params: _Params = ()) -> list[sqlite3.Row]:
        async with self._transaction() as db:
            return list(await db.execute_fetchall(sql, params))

    # -- users ---------------------------------------------------------------------------

    async def ensure_user(self, telegram_id: int, language: str | None) -> User:
        """Return the user, creating it if absent.

        An existing language is never overwritten; ``language`` only fills a missing one.
        The common case (a known user with a language) is one read, no write transaction:
        this runs for every update the bot gets.
        """
        known = await self.get_user(telegram_id)
        if known is not None and (known.language is not None or language is None):
            return known
        now = _ts(self._now())
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO users (telegram_id, language, created_at, updated_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (telegram_id) DO UPDATE"
                " SET language = excluded.language, updated_at = excluded.updated_at"
                " WHERE users.language IS NULL AND excluded.language IS NOT NULL",
                (telegram_id, language, now, now),
            )
            rows = list(
                await db.execute_fetchall(
                    "SELECT * FROM users WHERE telegram_id = ?", (telegram_id,)
                )
            )
        return _user(rows[0])

    async def get_user(self, telegram_id: int) -> User | None:
        row = await self._fetch_one("SELECT * FROM users WHERE telegram_id = ?", (telegram_id,))
        return None if row is None else _user(row)

    async def set_language(self, telegram_id: int, language: str | None) -> None:
        """Set the user's language (``None``: follow Telegram's). No-op for unknown users."""
        await self._write(
            "UPDATE users SET language = ?, updated_at = ? WHERE telegram_id = ?",
            (language, _ts(self._now()), telegram_id),
        )

    async def set_key(
        self, telegram_id: int, cipher: bytes, fingerprint: str, display_name: str | None
    ) -> None:
        """Store the user's encrypted API key and clear ``key_revoked``.

        No-op for unknown users: call :meth:`ensure_user` first.
        """
        await self._write(
            "UPDATE users SET key_cipher = ?, key_fingerprint = ?, display_name = ?,"
            " key_revoked = 0, updated_at = ? WHERE telegram_id = ?",
            (cipher, fingerprint, display_name, _ts(self._now()), telegram_id),
        )

    async def clear_key(self, telegram_id: int) -> None:
        """Forget the user's API key (and the account name and revoked flag tied to it)."""
        await self._write(
            "UPDATE users SET key_cipher = NULL, key_fingerprint = NULL, display_name = NULL,"
            " key_revoked = 0, updated_at = ? WHERE telegram_id = ?",
            (_ts(self._now()), telegram_id),
        )

    async def set_chat_active(self, telegram_id: int, active: bool) -> None:
        """Record whether the bot can write to the user (False once they block it)."""
        await self._write(
            "UPDATE users SET chat_active = ?, updated_at = ? WHERE telegram_id = ?",
            (int(active), _ts(self._now()), telegram_id),
        )

    async def set_key_revoked(self, telegram_id: int, *, fingerprint: str | None = None) -> bool:
        """Flag the user's key as revoked by the API.

        Args:
            telegram_id: The user.
            fingerprint: If given, only flag when it is still the stored key's fingerprint,
                so a 401 for an old key cannot flag a key the user has just replaced.

        Returns:
            True only for the call that set the flag, so the user is told once.
        """
        changed = await self._write(
            "UPDATE users SET key_revoked = 1, updated_at = ?"
            " WHERE telegram_id = ? AND key_revoked = 0 AND key_cipher IS NOT NULL"
            " AND (? IS NULL OR key_fingerprint = ?)",
            (_ts(self._now()), telegram_id, fingerprint, fingerprint),
        )
        return changed == 1

    async def users_count(self) -> int:
        row = await self._fetch_one("SELECT COUNT(*) FROM users")
        return int(row[0]) if row else 0

    # -- orders --------------------------------------------------------------------------

    async def save_order(self, order: StoredOrder) -> bool:
        """Insert a new order (its user must exist).

        Returns:
            False, writing nothing, if an order with this id is already stored.
        """
        changed = await self._write(
            "INSERT INTO orders (id, user_id, key_fingerprint, service, service_name,"
            " country_id, country_slug, phone, status, expires_at, charged_cents,"
            " card_message_id, sms_seen, final_notified, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (
                order.id,
                order.user_id,
                order.key_fingerprint,
                order.service,
                order.service_name,
                order.country_id,
                order.country_slug,
                order.phone,
                order.status,
                _opt_ts(order.expires_at),
                order.charged_cents,
                order.card_message_id,
                order.sms_seen,
                int(order.final_notified),
                _ts(order.created_at),
                _ts(order.updated_at),
            ),
        )
        return changed == 1

    async def get_order(self, order_id: str) -> StoredOrder | None:
        row = await self._fetch_one("SELECT * FROM orders WHERE id = ?", (order_id,))
        return None if row is None else _order(row)

    async def get_user_order(self, user_id: int, order_id: str) -> StoredOrder | None:
        """Return the order only if it belongs to ``user_id``."""
        row = await self._fetch_one(
            "SELECT * FROM orders WHERE id = ? AND user_id = ?", (order_id, user_id)
        )
        return None if row is None else _order(row)

    async def set_order_status(
        self, order_id: str, status: str, *, expires_at: datetime | None = None
    ) -> bool:
        """Record the status (and, if given, the new expiry) seen from the API.

        Returns:
            True if something changed, e.g. to decide whether the order card needs redrawing.
        """
        expires = _opt_ts(expires_at)
        changed = await self._write(
            "UPDATE orders SET status = ?, expires_at = COALESCE(?, expires_at), updated_at = ?"
            " WHERE id = ? AND (status IS NOT ? OR (? IS NOT NULL AND expires_at IS NOT ?))",
            (status, expires, _ts(self._now()), order_id, status, expires, expires),
        )
        return changed == 1

    async def set_card_message(
        self, order_id: str, message_id: int, card_hash: str | None = None
    ) -> None:
        """Remember the Telegram message that shows the order card (and what it shows)."""
        await self._write(
            "UPDATE orders SET card_message_id = ?, card_hash = ?, card_retry_at = NULL,"
            " updated_at = ? WHERE id = ?",
            (message_id, card_hash, _ts(self._now()), order_id),
        )

    async def set_card_hash(self, order_id: str, card_hash: str) -> None:
        """Record what the order card now shows (a hash of its text and buttons)."""
        await self._write(
            "UPDATE orders SET card_hash = ?, card_retry_at = NULL, updated_at = ? WHERE id = ?",
            (card_hash, _ts(self._now()), order_id),
        )

    async def set_sms_seen(self, order_id: str, count: int) -> None:
        """Record that the first ``count`` entries of ``smsHistory`` are handled.

        Never moves backwards, so a late caller with an older count cannot undo progress.
        """
        await self._write(
            "UPDATE orders SET sms_seen = ?, updated_at = ? WHERE id = ? AND sms_seen < ?",
            (count, _ts(self._now()), order_id, count),
        )

    async def mark_final_notified(self, order_id: str) -> bool:
        """Record that the user was told the final outcome. True only the first time."""
        changed = await self._write(
            "UPDATE orders SET final_notified = 1, updated_at = ?"
            " WHERE id = ? AND final_notified = 0",
            (_ts(self._now()), order_id),
        )
        return changed == 1

    async def claim_final_notice(self, order_id: str, now: datetime, until: datetime) -> bool:
        """Hold the order's final notice until ``until`` to send it (one sender at a time).

        Returns:
            False when it was told already, or another sender holds it (or it failed and
            its next try is later).
        """
        changed = await self._write(
            "UPDATE orders SET final_claimed_until = ? WHERE id = ? AND final_notified = 0"
            " AND (final_claimed_until IS NULL OR final_claimed_until <= ?)",
            (_ts(until), order_id, _ts(now)),
        )
        return changed == 1

    async def defer_final_notice(self, order_id: str, at: datetime) -> None:
        """The notice could not be sent: the next try is at ``at``."""
        await self._write(
            "UPDATE orders SET final_claimed_until = ? WHERE id = ? AND final_notified = 0",
            (_ts(at), order_id),
        )

    async def mark_card_stale(self, order_id: str, retry_at: datetime) -> None:
        """An edit of the card failed: redraw it (once, as it is then) at ``retry_at``."""
        await self._write(
            "UPDATE orders SET card_retry_at = ? WHERE id = ?", (_ts(retry_at), order_id)
        )

    async def stale_cards(
        self, now: datetime, *, user_id: int | None = None, limit: int = 200
    ) -> list[StoredOrder]:
        """Orders whose card edit failed and is due again, for users who can be sent to."""
        rows = await self._fetch(
            "SELECT o.* FROM orders o JOIN users u ON u.telegram_id = o.user_id"
            " WHERE o.card_retry_at IS NOT NULL AND o.card_retry_at <= ? AND u.chat_active = 1"
            " AND (? IS NULL OR o.user_id = ?)"
            " ORDER BY o.card_retry_at LIMIT ?",
            (_ts(now), user_id, user_id, limit),
        )
        return [_order(row) for row in rows]

    async def active_orders(self) -> list[StoredOrder]:
        """Orders the poller still has work on: not final, or final but not yet announced."""
        # The WHERE clause repeats the partial index ``orders_open`` (migration 1) verbatim
        # so that SQLite uses it; the statuses are those of FINAL_STATUSES.
        rows = await self._fetch(
            "SELECT * FROM orders"
            " WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0"
            " ORDER BY created_at"
        )
        return [_order(row) for row in rows]

    async def active_orders_for_user(self, user_id: int) -> list[StoredOrder]:
        rows = await self._fetch(
            "SELECT * FROM orders WHERE user_id = ?"
            " AND (status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0)"
            " ORDER BY created_at",
            (user_id,),
        )
        return [_order(row) for row in rows]

    # -- SMS deliveries ------------------------------------------------------------------

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
                _opt_ts(received_at),
                _ts(self._now()),
                claimant,
                _opt_ts(lease_until),
            ),
        )
        return changed == 1

    async def mark_delivered(self, order_id: str, position: int, message_id: int) -> bool:
        """Record that the claimed SMS reached the user. True if it was pending."""
        changed = await self._write(
            "UPDATE sms_deliveries SET state = 'sent', message_id = ?, attempts = attempts + 1,"
            " claimed_by = NULL, claimed_until = NULL"
            " WHERE order_id = ? AND position = ? AND state = 'pending'",
            (message_id, order_id, position),
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
        its first code waits for a retry, or while another sender holds any of them, so a
        later code never overtakes an earlier one.

        A row whose previous claim expired unresolved (its sender died mid-send) counts as
        one more doubtful send; a row that reaches two doubtful sends is given up instead
        of claimed (the user may already have it twice).
        """
        at = _ts(now)
        claimed: list[Delivery] = []
        async with self._transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT d.*, o.user_id FROM sms_deliveries d"
                    " JOIN orders o ON o.id = d.order_id JOIN users u ON u.telegram_id = o.user_id"
                    " WHERE o.user_id = ? AND u.chat_active = 1"
                    " AND d.state = 'pending' AND d.given_up = 0"
                    " ORDER BY COALESCE(d.received_at, d.created_at), d.order_id, d.position"
                    " LIMIT ?",
                    (user_id, limit),
                )
            )
            held = any(r["claimed_until"] is not None and r["claimed_until"] > at for r in rows)
            if not rows or held or (rows[0]["next_attempt_at"] or "") > at:
                return []
            for row in rows:
                died = row["claimed_by"] is not None
                if died and row["doubtful"] >= 1:
                    await db.execute(
                        "UPDATE sms_deliveries SET given_up = 1, doubtful = doubtful + 1,"
                        " claimed_by = NULL, claimed_until = NULL"
                        " WHERE order_id = ? AND position = ?",
                        (row["order_id"], row["position"]),
                    )
                    continue
                await db.execute(
                    "UPDATE sms_deliveries SET claimed_by = ?, claimed_until = ?,"
                    " doubtful = doubtful + ? WHERE order_id = ? AND position = ?",
                    (claimant, _ts(lease_until), int(died), row["order_id"], row["position"]),
                )
                claimed.append(replace(_delivery(row), doubtful=row["doubtful"] + int(died)))
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
            (int(doubtful), int(doubtful), _ts(at), order_id, position, claimant),
        )
        return bool(rows) and not rows[0]["given_up"]

    async def release_delivery(
        self,
        order_id: str,
        position: int,
        claimant: str,
        *,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Give the claim back without counting an attempt: the user blocked the bot (the
        row waits, due, until they are reachable again), or an earlier code of the same
        chat failed and this one waits with it until ``next_attempt_at``."""
        await self._write(
            "UPDATE sms_deliveries SET claimed_by = NULL, claimed_until = NULL,"
            " next_attempt_at = COALESCE(?, next_attempt_at)"
            " WHERE order_id = ? AND position = ? AND claimed_by = ?",
            (_opt_ts(next_attempt_at), order_id, position, claimant),
        )

    async def expire_claims(self, claimant: str, now: datetime) -> int:
        """End every claim ``claimant`` holds (it restarted: those sends died with it)."""
        return await self._write(
            "UPDATE sms_deliveries SET claimed_until = ?"
            " WHERE claimed_by = ? AND state = 'pending' AND claimed_until > ?",
            (_ts(now), claimant, _ts(now)),
        )

    async def users_with_due_sends(self, now: datetime) -> list[int]:
        """Reachable users with codes due or stale cards to redraw, earliest SMS first."""
        at = _ts(now)
        rows = await self._fetch(
            "SELECT o.user_id, MIN(COALESCE(d.received_at, d.created_at)) AS first"
            " FROM sms_deliveries d JOIN orders o ON o.id = d.order_id"
            " JOIN users u ON u.telegram_id = o.user_id"
            " WHERE d.state = 'pending' AND d.given_up = 0 AND u.chat_active = 1"
            " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?)"
            " AND (d.claimed_until IS NULL OR d.claimed_until <= ?)"
            " GROUP BY o.user_id"
            " UNION ALL"
            " SELECT o.user_id, '~' FROM orders o JOIN users u ON u.telegram_id = o.user_id"
            " WHERE o.card_retry_at IS NOT NULL AND o.card_retry_at <= ? AND u.chat_active = 1"
            " ORDER BY 2",
            (at, at, at),
        )
        return list(dict.fromkeys(int(row[0]) for row in rows))

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

    # -- purchases -----------------------------------------------------------------------

    async def offer_purchase(
        self,
        user_id: int,
        service: str,
        service_name: str,
        country_id: str,
        country_slug: str,
        price_cents: int,
    ) -> Purchase:
        """Create a single-use confirmation with a fresh random token."""
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = _ts(self._now())
        rows = await self._write_returning(
            "INSERT INTO purchases (token, user_id, service, service_name, country_id,"
            " country_slug, price_cents, state, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'offered', ?, ?) RETURNING *",
            (
                token,
                user_id,
                service,
                service_name,
                country_id,
                country_slug,
                price_cents,
                now,
                now,
            ),
        )
        return _purchase(rows[0])

    async def claim_purchase(
        self, token: str, user_id: int, *, max_age: timedelta = PURCHASE_TTL
    ) -> Purchase | None:
        """Move an offer to ``creating`` for the single caller allowed to create the order.

        Returns:
            The purchase to the one winner; None for everyone else, and for a token that is
            unknown, another user's, already claimed, or older than ``max_age``.
        """
        now = self._now()
        rows = await self._write_returning(
            "UPDATE purchases SET state = 'creating', updated_at = ?"
            " WHERE token = ? AND user_id = ? AND state = 'offered' AND created_at >= ?"
            " RETURNING *",
            (_ts(now), token, user_id, _ts(now - max_age)),
        )
        return _purchase(rows[0]) if rows else None

    async def finish_purchase(
        self, token: str, state: PurchaseState, order_id: str | None = None
    ) -> bool:
        """Settle a claimed purchase as ``done``, ``failed`` or ``unknown``.

        Allowed from ``creating`` and from ``unknown`` (reconciliation after a lost answer).
        An existing ``order_id`` is kept when ``order_id`` is None.

        Returns:
            True if the purchase was in a state that allows the move.

        Raises:
            ValueError: ``state`` is not a final one.
        """
        if state not in _FINISHED_PURCHASE:
            raise ValueError(f"cannot finish a purchase as {state!r}")
        changed = await self._write(
            "UPDATE purchases SET state = ?, order_id = COALESCE(?, order_id), updated_at = ?"
            " WHERE token = ? AND state IN ('creating', 'unknown')",
            (PurchaseState(state).value, order_id, _ts(self._now()), token),
        )
        return changed == 1

    async def purchases_in_state(self, state: PurchaseState) -> list[Purchase]:
        """Purchases in ``state``, oldest first (to reconcile ``creating``/``unknown``)."""
        rows = await self._fetch(
            "SELECT * FROM purchases WHERE state = ? ORDER BY created_at",
            (PurchaseState(state).value,),
        )
        return [_purchase(row) for row in rows]

    async def get_purchase(self, token: str) -> Purchase | None:
        row = await self._fetch_one("SELECT * FROM purchases WHERE token = ?", (token,))
        return None if row is None else _purchase(row)

    # -- recent services -----------------------------------------------------------------

    async def touch_service(self, user_id: int, service: str) -> None:
        """Record that the user just ordered ``service`` (for quick-pick buttons)."""
        await self._write(
            "INSERT INTO recent_services (user_id, service, used_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, service) DO UPDATE SET used_at = excluded.used_at",
            (user_id, service, _ts(self._now())),
        )

    async def recent_services(self, user_id: int, limit: int = 5) -> list[str]:
        """Service codes the user ordered, most recent first."""
        rows = await self._fetch(
            "SELECT service FROM recent_services WHERE user_id = ? ORDER BY used_at DESC LIMIT ?",
            (user_id, limit),
        )
        return [row["service"] for row in rows]

    # -- python-telegram-bot persistence (used by SqlitePersistence) ---------------------

    async def load_conversations(self, name: str) -> dict[str, str]:
        """Encoded conversation key → encoded state, for the ConversationHandler ``name``."""
        rows = await self._fetch("SELECT key, state FROM ptb_conversations WHERE name = ?", (name,))
        return {row["key"]: row["state"] for row in rows}

    async def save_conversation(self, name: str, key: str, state: str | None) -> None:
        """Store a conversation's encoded state; None ends the conversation (deletes it)."""
        if state is None:
            await self._write(
                "DELETE FROM ptb_conversations WHERE name = ? AND key = ?", (name, key)
            )
            return
        await self._write(
            "INSERT INTO ptb_conversations (name, key, state, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name, key) DO UPDATE"
            " SET state = excluded.state, updated_at = excluded.updated_at",
            (name, key, state, _ts(self._now())),
        )

    async def load_ptb_data(self, kind: PtbDataKind) -> dict[int, str]:
        """All stored ``user_data`` or ``chat_data`` documents (JSON text) by id."""
        rows = await self._fetch("SELECT id, data FROM ptb_data WHERE kind = ?", (kind,))
        return {row["id"]: row["data"] for row in rows}

    async def save_ptb_data(self, kind: PtbDataKind, ident: int, data: str) -> None:
        await self._write(
            "INSERT INTO ptb_data (kind, id, data, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, id) DO UPDATE"
            " SET data = excluded.data, updated_at = excluded.updated_at",
            (kind, ident, data, _ts(self._now())),
        )

    async def drop_ptb_data(self, kind: PtbDataKind, ident: int) -> None:
        await self._write("DELETE FROM ptb_data WHERE kind = ? AND id = ?", (kind, ident))
