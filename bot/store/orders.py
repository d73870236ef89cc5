"""Orders: their status as last seen from the API, the Telegram card that shows them (what
it shows, failed edits to redo), the SMS already handled and the one final notice."""

from __future__ import annotations

from datetime import datetime

from bot.store.base import Repository, dt, opt_dt, opt_ts, ts
from bot.store.coordination import POLLED_BY, polled_by_args
from bot.store.db import Row
from bot.store.models import StoredOrder

__all__ = ["OrdersRepository", "order_of_row"]


def order_of_row(row: Row) -> StoredOrder:
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
        expires_at=opt_dt(row["expires_at"]),
        charged_cents=row["charged_cents"],
        card_message_id=row["card_message_id"],
        card_hash=row["card_hash"],
        card_retry_at=opt_dt(row["card_retry_at"]),
        sms_seen=row["sms_seen"],
        final_notified=bool(row["final_notified"]),
        created_at=dt(row["created_at"]),
        updated_at=dt(row["updated_at"]),
        auto_replace=bool(row["auto_replace"]),
        confirmed_cents=row["confirmed_cents"],
        replaces_left=row["replaces_left"],
        replaced_from=row["replaced_from"],
        replaced_by=row["replaced_by"],
        rate_counted=bool(row["rate_counted"]),
    )


class OrdersRepository(Repository):
    """The ``orders`` table."""

    __slots__ = ()

    async def save_order(self, order: StoredOrder) -> bool:
        """Insert a new order (its user must exist).

        Returns:
            False, writing nothing, if an order with this id is already stored.
        """
        changed = await self._write(
            "INSERT INTO orders (id, user_id, key_fingerprint, service, service_name,"
            " country_id, country_slug, phone, status, expires_at, charged_cents,"
            " card_message_id, sms_seen, final_notified, created_at, updated_at,"
            " auto_replace, confirmed_cents, replaces_left, replaced_from, replaced_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
                opt_ts(order.expires_at),
                order.charged_cents,
                order.card_message_id,
                order.sms_seen,
                int(order.final_notified),
                ts(order.created_at),
                ts(order.updated_at),
                int(order.auto_replace),
                order.confirmed_cents,
                order.replaces_left,
                order.replaced_from,
                order.replaced_by,
            ),
        )
        return changed == 1

    async def get_order(self, order_id: str) -> StoredOrder | None:
        row = await self._fetch_one("SELECT * FROM orders WHERE id = ?", (order_id,))
        return None if row is None else order_of_row(row)

    async def get_user_order(self, user_id: int, order_id: str) -> StoredOrder | None:
        """Return the order only if it belongs to ``user_id``."""
        row = await self._fetch_one(
            "SELECT * FROM orders WHERE id = ? AND user_id = ?", (order_id, user_id)
        )
        return None if row is None else order_of_row(row)

    async def set_order_status(
        self, order_id: str, status: str, *, expires_at: datetime | None = None
    ) -> bool:
        """Record the status (and, if given, the new expiry) seen from the API.

        Returns:
            True if something changed, e.g. to decide whether the order card needs redrawing.
        """
        expires = opt_ts(expires_at)
        changed = await self._write(
            # Portable SQL: PostgreSQL has no ``a IS NOT b`` for values and must be able to
            # infer every parameter's type, hence the CAST on the one only tested for NULL.
            "UPDATE orders SET status = ?, expires_at = COALESCE(?, expires_at), updated_at = ?"
            " WHERE id = ? AND (status <> ? OR (CAST(? AS TEXT) IS NOT NULL"
            " AND (expires_at IS NULL OR expires_at <> ?)))",
            (status, expires, ts(self._now()), order_id, status, expires, expires),
        )
        return changed == 1

    async def set_card_message(
        self, order_id: str, message_id: int, card_hash: str | None = None
    ) -> None:
        """Remember the Telegram message that shows the order card (and what it shows)."""
        await self._write(
            "UPDATE orders SET card_message_id = ?, card_hash = ?, card_retry_at = NULL,"
            " updated_at = ? WHERE id = ?",
            (message_id, card_hash, ts(self._now()), order_id),
        )

    async def set_card_hash(self, order_id: str, card_hash: str) -> None:
        """Record what the order card now shows (a hash of its text and buttons)."""
        await self._write(
            "UPDATE orders SET card_hash = ?, card_retry_at = NULL, updated_at = ? WHERE id = ?",
            (card_hash, ts(self._now()), order_id),
        )

    async def claim_card_hash(self, order: StoredOrder, card_hash: str, until: datetime) -> bool:
        """Claim the redraw of ``order``'s card, from what it shows to ``card_hash``.

        True for the one caller that should edit the message now; False when another
        (another replica, say) already claimed or drew this change, so two never send the
        same edit (Telegram would answer "message is not modified"). The claim holds
        ``card_retry_at`` at ``until``: if its holder dies before the edit is recorded, the
        card is due then, and the outbox redraws it (an edit that did happen is refused as
        unchanged, which records it), instead of it being taken for drawn.
        """
        changed = await self._write(
            "UPDATE orders SET card_hash = ?, card_retry_at = ?, updated_at = ? WHERE id = ?"
            " AND (card_hash = CAST(? AS TEXT) OR (card_hash IS NULL AND CAST(? AS TEXT) IS NULL))"
            " AND (card_retry_at = CAST(? AS TEXT)"
            " OR (card_retry_at IS NULL AND CAST(? AS TEXT) IS NULL))",
            (
                card_hash,
                ts(until),
                ts(self._now()),
                order.id,
                order.card_hash,
                order.card_hash,
                opt_ts(order.card_retry_at),
                opt_ts(order.card_retry_at),
            ),
        )
        return changed == 1

    async def restore_card_hash(
        self, order: StoredOrder, card_hash: str, until: datetime, retry_at: datetime | None
    ) -> None:
        """The edit claimed with :meth:`claim_card_hash` did not happen: the card still shows
        what ``order`` says, and its next try is at ``retry_at`` (None: when it changes).
        Unless someone has claimed another change since."""
        await self._write(
            "UPDATE orders SET card_hash = ?, card_retry_at = ?, updated_at = ?"
            " WHERE id = ? AND card_hash = ? AND card_retry_at = ?",
            (order.card_hash, opt_ts(retry_at), ts(self._now()), order.id, card_hash, ts(until)),
        )

    async def set_sms_seen(self, order_id: str, count: int) -> None:
        """Record that the first ``count`` entries of ``smsHistory`` are handled.

        Never moves backwards, so a late caller with an older count cannot undo progress.
        """
        await self._write(
            "UPDATE orders SET sms_seen = ?, updated_at = ? WHERE id = ? AND sms_seen < ?",
            (count, ts(self._now()), order_id, count),
        )

    async def mark_final_notified(self, order_id: str) -> bool:
        """Record that the user was told the final outcome. True only the first time."""
        changed = await self._write(
            "UPDATE orders SET final_notified = 1, updated_at = ?"
            " WHERE id = ? AND final_notified = 0",
            (ts(self._now()), order_id),
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
            (ts(until), order_id, ts(now)),
        )
        return changed == 1

    async def defer_final_notice(self, order_id: str, at: datetime) -> None:
        """The notice could not be sent: the next try is at ``at``."""
        await self._write(
            "UPDATE orders SET final_claimed_until = ? WHERE id = ? AND final_notified = 0",
            (ts(at), order_id),
        )

    async def mark_card_stale(self, order_id: str, retry_at: datetime) -> None:
        """Redraw the card (once, as it is then) at ``retry_at``, by the outbox."""
        await self._write(
            "UPDATE orders SET card_retry_at = ? WHERE id = ?", (ts(retry_at), order_id)
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
            (ts(now), user_id, user_id, limit),
        )
        return [order_of_row(row) for row in rows]

    async def active_orders(self, *, polled_by: str | None = None) -> list[StoredOrder]:
        """Orders the poller still has work on: not final, or final but not yet announced.

        Args:
            polled_by: Only those of the keys whose poll lease this replica holds: each
                replica of a fleet reads and parses its own share, not every order.
        """
        if polled_by is None:
            # The WHERE clause repeats the partial index ``orders_open`` (migration 1)
            # verbatim so that SQLite uses it; the statuses are those of FINAL_STATUSES.
            rows = await self._fetch(
                "SELECT * FROM orders"
                " WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0"
                " ORDER BY created_at"
            )
        else:
            rows = await self._fetch(
                f"SELECT * FROM orders WHERE user_id IN ({POLLED_BY})"  # noqa: S608 (constant)
                " AND (status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0)"
                " ORDER BY created_at",
                polled_by_args(polled_by, self._now()),
            )
        return [order_of_row(row) for row in rows]

    async def active_order_users(self) -> dict[int, int]:
        """The users with active orders (see :meth:`active_orders`), each with how many."""
        # Materialized: else SQLite groups along ``orders_by_user``, through every order ever
        # made, instead of reading the open ones from ``orders_open``.
        rows = await self._fetch(
            "WITH open AS MATERIALIZED (SELECT user_id FROM orders"
            " WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0)"
            " SELECT user_id, COUNT(*) AS n FROM open GROUP BY user_id"
        )
        return {int(row["user_id"]): int(row["n"]) for row in rows}

    async def active_orders_for_user(self, user_id: int) -> list[StoredOrder]:
        rows = await self._fetch(
            "SELECT * FROM orders WHERE user_id = ?"
            " AND (status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0)"
            " ORDER BY created_at",
            (user_id,),
        )
        return [order_of_row(row) for row in rows]
