"""The bot's database: plain SQL, written once, over a :class:`bot.store.db.Database`.

Every public method commits before it returns, so what it wrote survives a crash of the
process right after. Statements use ``?`` placeholders and portable SQL (SQLite and
PostgreSQL both run it); rows are read by column name.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from bot.store.console import Broadcast, BroadcastState, RecipientState, Tally, UserCounts
from bot.store.db import Database, Dialect, Executor, Params, Row, SqliteDatabase
from bot.store.migrations import migrate
from bot.store.models import (
    Alert,
    AlertState,
    Delivery,
    DeliveryState,
    Favourite,
    Purchase,
    PurchaseState,
    StoredOrder,
    User,
)

__all__ = ["PURCHASE_TTL", "SQLITE_FILE", "Clock", "FavouriteAdded", "Store", "open_store"]

COUNTER_DAYS: Final = 2
"""How many days of the fleet's hourly counters are kept."""

PURCHASE_TTL: Final = timedelta(minutes=10)
"""How long a purchase confirmation button stays valid (prices and stock move)."""
SEEN_EVERY: Final = timedelta(hours=1)
"""``users.last_seen_at`` is rewritten at most this often per user."""

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""

_FINISHED_PURCHASE: Final = frozenset(
    {PurchaseState.DONE, PurchaseState.FAILED, PurchaseState.UNKNOWN}
)
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
_TOKEN_BYTES: Final = 9  # 12 URL-safe characters: 72 random bits, tiny in callback_data
SQLITE_FILE: Final = "bot.sqlite3"
"""The SQLite database's file name in the data directory."""


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


def _dialog_text(dialog: Mapping[str, Any] | None) -> str | None:
    """``dialog`` as JSON text (None when empty), refusing what JSON would change.

    ``json`` silently turns int keys into strings and tuples into lists; storing such a
    state would hand the handlers different values on the next update.
    """
    if not dialog:
        return None
    plain = dict(dialog)
    text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    if json.loads(text) != plain:
        raise TypeError("the dialog does not survive a JSON round trip; use str keys and lists")
    return text


def _dialog(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


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
        created_at=_dt(row["created_at"]),
        started_at=_opt_dt(row["started_at"]),
        finished_at=_opt_dt(row["finished_at"]),
    )


def _user(row: Row) -> User:
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
        dialog=_dialog(row["dialog"]),
        announcements_muted=bool(row["announcements_muted"]),
        last_seen_at=_opt_dt(row["last_seen_at"]),
    )


def _order(row: Row) -> StoredOrder:
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


def _delivery(row: Row) -> Delivery:
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
        user_id=row["user_id"] if "user_id" in row.keys() else None,  # noqa: SIM118 (a Row)
    )


def _purchase(row: Row) -> Purchase:
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
        reconcile_after=_opt_dt(row["reconcile_after"]),
    )


def _favourite(row: Row) -> Favourite:
    return Favourite(
        user_id=row["user_id"],
        service=row["service"],
        service_name=row["service_name"],
        country_id=row["country_id"],
        country_slug=row["country_slug"],
        created_at=_dt(row["created_at"]),
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
        created_at=_dt(row["created_at"]),
        expires_at=_dt(row["expires_at"]),
        claimed_at=_opt_dt(row["claimed_at"]),
        fired_at=_opt_dt(row["fired_at"]),
        price_cents=row["price_cents"],
    )


FavouriteAdded = Literal["added", "exists", "full"]
_ALERT_ID_BYTES: Final = 6  # 8 URL-safe characters in callback data


class Store:
    """Async access to the bot's database. Create it with :meth:`open` or :func:`open_store`."""

    __slots__ = ("_clock", "_db", "_last_now")

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        """Wrap ``db``, whose schema must be up to date (see :func:`bot.store.migrations.migrate`).

        Args:
            db: The database.
            clock: The current time (default: the system clock); tests move it.
        """
        self._db = db
        self._clock: Clock = clock or _system_clock
        self._last_now = datetime.min.replace(tzinfo=UTC)

    @classmethod
    async def open(cls, path: Path | str, *, clock: Clock | None = None) -> Store:
        """Open (creating if needed) the SQLite database at ``path``, schema brought up to date.

        Args:
            path: Database file; its parent directory is created. ``":memory:"`` gives a
                throw-away in-memory database.
            clock: See :meth:`__init__`.
        """
        return await cls.over(await SqliteDatabase.open(path), clock=clock)

    @classmethod
    async def over(cls, db: Database, *, clock: Clock | None = None) -> Store:
        """Migrate ``db`` and wrap it; ``db`` is closed if that fails."""
        try:
            await migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db, clock=clock)

    @property
    def dialect(self) -> Dialect:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    async def close(self) -> None:
        """Close the database; waits for a running operation to finish first."""
        await self._db.close()

    async def ping(self) -> None:
        """Raise :class:`~bot.store.errors.StoreUnavailableError` unless the database answers."""
        await self._db.ping()

    # -- plumbing ------------------------------------------------------------------------

    def _now(self) -> datetime:
        """Current UTC time, strictly increasing within this store.

        Two writes in the same clock tick still get distinct, ordered timestamps, which
        keeps "newest first" queries deterministic.
        """
        now = self._clock().astimezone(UTC)
        if now <= self._last_now:
            now = self._last_now + timedelta(microseconds=1)
        self._last_now = now
        return now

    async def _fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._db.fetch(sql, params)

    async def _fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._db.fetch_one(sql, params)

    async def _write(self, sql: str, params: Params = ()) -> int:
        """Run one data-changing statement in its own transaction; return the rows changed."""
        return await self._db.execute(sql, params)

    async def _write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._db.fetch_returning(sql, params)

    # -- users ---------------------------------------------------------------------------

    async def ensure_user(self, telegram_id: int, language: str | None) -> User:
        """Return the user, creating it if absent (see `get_or_create_user`)."""
        user, _ = await self.get_or_create_user(telegram_id, language)
        return user

    async def get_or_create_user(self, telegram_id: int, language: str | None) -> tuple[User, bool]:
        """Return the user and whether this call created it.

        An existing language is never overwritten; ``language`` only fills a missing one.
        The common case (a known user with a language) is one read, no write transaction:
        this runs for every update the bot gets. A row is ours when its ``created_at`` is
        the timestamp this call wrote (the store's clock never repeats one), so of two
        replicas inserting the same new user at once only one says it created it.
        """
        known = await self.get_user(telegram_id)
        if known is not None and (known.language is not None or language is None):
            return await self._seen(known), False
        now = _ts(self._now())
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO users (telegram_id, language, created_at, updated_at, last_seen_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (telegram_id) DO UPDATE"
                " SET language = excluded.language, updated_at = excluded.updated_at"
                " WHERE users.language IS NULL AND excluded.language IS NOT NULL",
                (telegram_id, language, now, now, now),
            )
            row = await tx.fetch_one("SELECT * FROM users WHERE telegram_id = ?", (telegram_id,))
        assert row is not None  # inserted or kept by the statement above
        return _user(row), row["created_at"] == now

    async def _seen(self, user: User) -> User:
        """Record that the user is active, at most once per :data:`SEEN_EVERY` (one write an
        hour per user, so "active in the last 24 h" costs normal updates nothing)."""
        now = self._clock().astimezone(UTC)
        if user.last_seen_at is not None and now - user.last_seen_at < SEEN_EVERY:
            return user
        await self._write(
            "UPDATE users SET last_seen_at = ? WHERE telegram_id = ?", (_ts(now), user.telegram_id)
        )
        return replace(user, last_seen_at=now)

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
            # A stored key always has a fingerprint (CHECK in migration 1), so COALESCE
            # matches any key when ``fingerprint`` is None.
            " WHERE telegram_id = ? AND key_revoked = 0 AND key_cipher IS NOT NULL"
            " AND key_fingerprint = COALESCE(?, key_fingerprint)",
            (_ts(self._now()), telegram_id, fingerprint),
        )
        return changed == 1

    async def users_count(self) -> int:
        row = await self._fetch_one("SELECT COUNT(*) AS n FROM users")
        return 0 if row is None else int(row["n"])

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
            # Portable SQL: PostgreSQL has no ``a IS NOT b`` for values and must be able to
            # infer every parameter's type, hence the CAST on the one only tested for NULL.
            "UPDATE orders SET status = ?, expires_at = COALESCE(?, expires_at), updated_at = ?"
            " WHERE id = ? AND (status <> ? OR (CAST(? AS TEXT) IS NOT NULL"
            " AND (expires_at IS NULL OR expires_at <> ?)))",
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

    async def claim_card_hash(self, order_id: str, seen: str | None, card_hash: str) -> bool:
        """Claim the redraw of a card from what it showed (``seen``) to ``card_hash``.

        True for the one caller that should edit the message now; False when another
        (another replica, say) already claimed or drew this change, so two never send the
        same edit (Telegram would answer "message is not modified").
        """
        changed = await self._write(
            "UPDATE orders SET card_hash = ?, updated_at = ? WHERE id = ?"
            " AND (card_hash = CAST(? AS TEXT) OR (card_hash IS NULL AND CAST(? AS TEXT) IS NULL))",
            (card_hash, _ts(self._now()), order_id, seen, seen),
        )
        return changed == 1

    async def restore_card_hash(self, order_id: str, card_hash: str, seen: str | None) -> None:
        """An edit claimed with :meth:`claim_card_hash` did not happen: the card still shows
        ``seen`` (unless someone has claimed another change since)."""
        await self._write(
            "UPDATE orders SET card_hash = ?, updated_at = ? WHERE id = ? AND card_hash = ?",
            (seen, _ts(self._now()), order_id, card_hash),
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
            " AND (CAST(? AS BIGINT) IS NULL OR o.user_id = ?)"
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
            " claimed_by = NULL, claimed_until = NULL, sent_at = ?"
            " WHERE order_id = ? AND position = ? AND state = 'pending'",
            (message_id, _ts(self._now()), order_id, position),
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
        at = _ts(now)
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
                        (claimant, _ts(lease_until), int(died), row["order_id"], row["position"]),
                    )
                    claimed.append(replace(_delivery(row), doubtful=row["doubtful"] + int(died)))
                if claimed or not given_up:
                    return claimed
                # Every row read was given up: the next ones of the queue are due now.

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
            (_ts(now), claimant, _ts(now)),
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
            (_ts(now), _ts(now), _ts(now - within)),
        )

    async def users_with_due_sends(self, now: datetime) -> list[int]:
        """Reachable users with codes due or stale cards to redraw, earliest SMS first."""
        at = _ts(now)
        rows = await self._fetch(
            "SELECT o.user_id AS user_id, MIN(COALESCE(d.received_at, d.created_at)) AS first"
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

    async def open_offer(
        self,
        user_id: int,
        service: str,
        country_id: str,
        price_cents: int,
        *,
        max_age: timedelta = PURCHASE_TTL / 2,
    ) -> Purchase | None:
        """The user's newest unused confirmation of the same service, country and price,
        made within ``max_age`` (so it still has at least as long to live), or None."""
        row = await self._fetch_one(
            "SELECT * FROM purchases WHERE user_id = ? AND service = ? AND country_id = ?"
            " AND price_cents = ? AND state = 'offered' AND created_at >= ?"
            " ORDER BY created_at DESC LIMIT 1",
            (user_id, service, country_id, price_cents, _ts(self._now() - max_age)),
        )
        return None if row is None else _purchase(row)

    async def claim_purchase(
        self,
        token: str,
        user_id: int,
        *,
        max_age: timedelta = PURCHASE_TTL,
        hold: timedelta = timedelta(minutes=2),
    ) -> Purchase | None:
        """Move an offer to ``creating`` for the single caller allowed to create the order.

        Args:
            token: The offer's token.
            user_id: Who tapped it; another user's token is refused.
            max_age: Offers older than this are refused (prices and stock move).
            hold: ``reconcile_after`` becomes now + ``hold``: reconcilers leave the purchase
                to this caller until then (its create request is in flight).

        Returns:
            The purchase to the one winner; None for everyone else, and for a token that is
            unknown, another user's, already claimed, or older than ``max_age``.
        """
        now = self._now()
        rows = await self._write_returning(
            "UPDATE purchases SET state = 'creating', reconcile_after = ?, updated_at = ?"
            " WHERE token = ? AND user_id = ? AND state = 'offered' AND created_at >= ?"
            " RETURNING *",
            (_ts(now + hold), _ts(now), token, user_id, _ts(now - max_age)),
        )
        return _purchase(rows[0]) if rows else None

    async def finish_purchase(
        self,
        token: str,
        state: PurchaseState,
        order_id: str | None = None,
        *,
        reconcile_after: datetime | None = None,
    ) -> bool:
        """Settle a claimed purchase as ``done``, ``failed`` or ``unknown``.

        Allowed from ``creating`` and from ``unknown`` (reconciliation after a lost answer).
        An existing ``order_id`` (and ``reconcile_after``) is kept when the argument is None.

        Returns:
            True if the purchase was in a state that allows the move.

        Raises:
            ValueError: ``state`` is not a final one.
        """
        if state not in _FINISHED_PURCHASE:
            raise ValueError(f"cannot finish a purchase as {state!r}")
        changed = await self._write(
            "UPDATE purchases SET state = ?, order_id = COALESCE(?, order_id),"
            " reconcile_after = COALESCE(?, reconcile_after), updated_at = ?"
            " WHERE token = ? AND state IN ('creating', 'unknown')",
            (
                PurchaseState(state).value,
                order_id,
                _opt_ts(reconcile_after),
                _ts(self._now()),
                token,
            ),
        )
        return changed == 1

    async def purchases_to_reconcile(self) -> list[Purchase]:
        """Purchases ``creating`` or ``unknown`` whose ``reconcile_after`` is due (or None),
        oldest first: their create request's outcome must be looked up."""
        rows = await self._fetch(
            "SELECT * FROM purchases WHERE state IN ('creating', 'unknown')"
            " AND (reconcile_after IS NULL OR reconcile_after <= ?) ORDER BY created_at",
            (_ts(self._now()),),
        )
        return [_purchase(row) for row in rows]

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

    # -- chat state ----------------------------------------------------------------------

    async def set_dialog(self, user_id: int, dialog: Mapping[str, Any] | None) -> None:
        """Replace the user's chat state (``User.dialog``); None or empty clears it.

        Raises:
            TypeError: ``dialog`` would not come back equal from JSON (non-str keys,
                tuples, sets, objects): refused rather than silently changed.
        """
        text = _dialog_text(dialog)
        await self._write(
            "UPDATE users SET dialog = ?, updated_at = ? WHERE telegram_id = ?",
            (text, _ts(self._now()), user_id),
        )

    # -- leases ----------------------------------------------------------------------------

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
            (name, holder, _ts(now + ttl), _ts(now)),
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
            (_ts(now + ttl), holder, _ts(now)),
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
            (_ts(self._now()), len(prefix), prefix),
        )
        return {row["name"]: row["holder"] for row in rows}

    # -- replicas --------------------------------------------------------------------------

    async def heartbeat(self, replica_id: str) -> None:
        """Record that the replica is alive now (registering it on its first beat)."""
        now = _ts(self._now())
        await self._write(
            "INSERT INTO replicas (id, started_at, heartbeat_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (replica_id, now, now),
        )

    async def live_replicas(self, within: timedelta) -> list[str]:
        """Ids of the replicas that beat within ``within`` of now, sorted."""
        rows = await self._fetch(
            "SELECT id FROM replicas WHERE heartbeat_at >= ?", (_ts(self._now() - within),)
        )
        # Sorted here: PostgreSQL's ORDER BY follows the database's collation, SQLite's not.
        return sorted(row["id"] for row in rows)

    async def drop_replica(self, replica_id: str) -> None:
        """Forget a replica that is shutting down (its leases are released separately)."""
        await self._write("DELETE FROM replicas WHERE id = ?", (replica_id,))

    # -- webhook updates -------------------------------------------------------------------

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
                (update_id, holder, _ts(now), _ts(now - stale_after)),
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
            "DELETE FROM webhook_updates WHERE claimed_at < ?", (_ts(self._now() - older_than),)
        )

    # -- counts (for /stats and metrics) ---------------------------------------------------

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

    # -- operator console (issue 15) -----------------------------------------------------

    async def set_announcements_muted(self, telegram_id: int, muted: bool) -> bool:
        """Mute (or unmute) the user's announcements. True if that changed something."""
        changed = await self._write(
            "UPDATE users SET announcements_muted = ?, updated_at = ?"
            " WHERE telegram_id = ? AND announcements_muted <> ?",
            (int(muted), _ts(self._now()), telegram_id, int(muted)),
        )
        return changed == 1

    async def user_counts(self, active_since: datetime) -> UserCounts:
        """All users, those with a linked key, those seen since ``active_since``, blocked."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS total,"
            " COALESCE(SUM(CASE WHEN key_cipher IS NOT NULL THEN 1 ELSE 0 END), 0) AS linked,"
            " COALESCE(SUM(CASE WHEN last_seen_at >= ? THEN 1 ELSE 0 END), 0) AS active,"
            " COALESCE(SUM(CASE WHEN chat_active = 0 THEN 1 ELSE 0 END), 0) AS blocked"
            " FROM users",
            (_ts(active_since),),
        )
        assert row is not None  # an aggregate always has a row
        return UserCounts(
            int(row["total"]), int(row["linked"]), int(row["active"]), int(row["blocked"])
        )

    async def count_orders_since(self, since: datetime) -> int:
        """Orders bought (stored) since ``since``."""
        row = await self._fetch_one(
            "SELECT COUNT(*) AS n FROM orders WHERE created_at >= ?", (_ts(since),)
        )
        return 0 if row is None else int(row["n"])

    async def code_latencies(self, since: datetime) -> list[float]:
        """Seconds from each SMS's ``receivedAt`` to Telegram accepting its message, for the
        codes sent since ``since`` (SMS without a receipt time are left out)."""
        rows = await self._fetch(
            "SELECT received_at, sent_at FROM sms_deliveries"
            " WHERE sent_at IS NOT NULL AND sent_at >= ? AND received_at IS NOT NULL",
            (_ts(since),),
        )
        return [
            max(0.0, (_dt(row["sent_at"]) - _dt(row["received_at"])).total_seconds())
            for row in rows
        ]

    async def add_counters(self, hour: datetime, counts: Mapping[str, int]) -> None:
        """Add ``counts`` to the fleet-wide bucket of ``hour`` (every replica adds its own);
        buckets older than ``COUNTER_DAYS`` days go (/stats reads the last 24 hours)."""
        bucket = _ts(_hour(hour))
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM fleet_counters WHERE hour < ?",
                (_ts(_hour(hour) - timedelta(days=COUNTER_DAYS)),),
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
            (_ts(_hour(since)),),
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
            (_ts(self._now()),),
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
        broadcast_id = secrets.token_urlsafe(_TOKEN_BYTES)
        now = _ts(self._now())
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
        now = _ts(self._now())
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
        now = _ts(self._now())
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
            (holder, _ts(self._now()), broadcast_id, broadcast_id, broadcast_id),
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
            (broadcast_id, _ts(self._now() - older_than)),
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
        now = _ts(self._now())
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
            (_ts(self._now()), broadcast_id),
        )
        return changed == 1

    # -- favourites, alerts, top-up (issue 14) --------------------------------------------

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
                (user_id, service, country_id, service_name, country_slug, _ts(self._now())),
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
                    _ts(now),
                    _ts(now + lifetime),
                ),
            )
        return _alert(rows[0]), True

    async def user_alerts(self, user_id: int) -> list[Alert]:
        """The user's alerts still waiting (not fired, cancelled or expired), oldest first."""
        rows = await self._fetch(
            "SELECT * FROM alerts WHERE user_id = ? AND state = 'active' AND expires_at > ?"
            " ORDER BY created_at",
            (user_id, _ts(self._now())),
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
            (_ts(now), _ts(now - refire_after)),
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
            (_ts(now), price_cents, alert_id, _ts(now), _ts(now - refire_after)),
        )
        return changed == 1

    async def finish_alert(self, alert_id: str, *, sent: bool) -> bool:
        """Settle a claim: ``sent`` for good, or back to waiting (the user was unreachable)."""
        if sent:
            sql = "UPDATE alerts SET state = 'sent', fired_at = ? WHERE id = ? AND state = 'firing'"
            params: Params = (_ts(self._now()), alert_id)
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
            (_ts(now), user_id),
        )

    async def topup_hint_due(self, user_id: int, every: timedelta) -> bool:
        """Whether the user may get the "top up" heads-up now (none within ``every``)."""
        row = await self._fetch_one(
            "SELECT topup_hint_at FROM users WHERE telegram_id = ?", (user_id,)
        )
        if row is None:
            return False
        last = row["topup_hint_at"]
        return last is None or _dt(last) <= self._now() - every

    async def claim_topup_hint(self, user_id: int, every: timedelta) -> bool:
        """Record the heads-up as given now, unless one was within ``every``. True once."""
        now = self._now()
        changed = await self._write(
            "UPDATE users SET topup_hint_at = ?"
            " WHERE telegram_id = ? AND (topup_hint_at IS NULL OR topup_hint_at <= ?)",
            (_ts(now), user_id, _ts(now - every)),
        )
        return changed == 1


def _system_clock() -> datetime:
    return datetime.now(UTC)


async def open_store(
    database_url: str | None,
    data_dir: Path,
    *,
    clock: Clock | None = None,
    max_connections: int = 10,
) -> Store:
    """Open the bot's store: PostgreSQL at ``database_url``, else SQLite in ``data_dir``.

    Args:
        database_url: ``postgresql://…`` (``DATABASE_URL``), or None/empty for SQLite.
        data_dir: ``BOT_DATA_DIR``; the SQLite file is ``bot.sqlite3`` in it.
        clock: See :meth:`Store.__init__`.
        max_connections: PostgreSQL only: this process's pool size. All replicas' pools
            together must stay under the server's ``max_connections`` (100 by default).

    Raises:
        StoreUnavailableError: The database cannot be reached.
        RuntimeError: Its schema is newer than this bot knows.
    """
    if not database_url:
        return await Store.open(data_dir / SQLITE_FILE, clock=clock)
    # Imported here so that a SQLite deployment never loads asyncpg.
    from bot.store.postgres import PostgresDatabase

    database = await PostgresDatabase.open(database_url, max_size=max_connections)
    return await Store.over(database, clock=clock)
