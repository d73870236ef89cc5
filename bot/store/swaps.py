"""Automatic replacement: which orders want it, the swap claimed for each replaced order
(a small state machine resumed after a crash), and what the cards show afterwards."""

from __future__ import annotations

from datetime import datetime

from bot.store.base import Repository, dt, ts
from bot.store.db import Row
from bot.store.models import StoredOrder, Swap, SwapState
from bot.store.orders import order_of_row

__all__ = ["SwapsRepository"]


def _swap(row: Row) -> Swap:
    return Swap(
        order_id=row["order_id"],
        user_id=row["user_id"],
        state=SwapState(row["state"]),
        token=row["token"],
        new_order_id=row["new_order_id"],
        claimed_by=row["claimed_by"],
        claimed_until=dt(row["claimed_until"]),
        created_at=dt(row["created_at"]),
        updated_at=dt(row["updated_at"]),
    )


class SwapsRepository(Repository):
    """The ``swaps`` table and the replacement columns of ``orders``, ``users``."""

    __slots__ = ()

    async def set_auto_replace_default(self, telegram_id: int, on: bool) -> None:
        """The user's default for new confirmations (``/settings``)."""
        await self._write(
            "UPDATE users SET auto_replace = ?, updated_at = ? WHERE telegram_id = ?",
            (int(on), ts(self._now()), telegram_id),
        )

    async def set_purchase_auto_replace(self, token: str, user_id: int, on: bool) -> bool:
        """Switch it on an unused confirmation of the user; False when there is none."""
        changed = await self._write(
            "UPDATE purchases SET auto_replace = ? WHERE token = ? AND user_id = ?"
            " AND state = 'offered'",
            (int(on), token, user_id),
        )
        return changed == 1

    async def set_order_auto_replace(self, user_id: int, order_id: str, on: bool) -> bool:
        """Switch it on the user's order while it still waits for its first SMS."""
        changed = await self._write(
            "UPDATE orders SET auto_replace = ?, updated_at = ? WHERE id = ? AND user_id = ?"
            " AND status = 'WAITING' AND sms_seen = 0",
            (int(on), ts(self._now()), order_id, user_id),
        )
        return changed == 1

    async def orders_to_replace(
        self, created_before: datetime, limit: int = 50
    ) -> list[StoredOrder]:
        """Orders with auto-replace on, still waiting for a first SMS, made before
        ``created_before``, with replacements left and no swap yet; oldest first."""
        rows = await self._fetch(
            "SELECT * FROM orders o WHERE o.auto_replace = 1 AND o.status = 'WAITING'"
            " AND o.sms_seen = 0 AND o.created_at <= ?"
            " AND (o.replaces_left IS NULL OR o.replaces_left > 0)"
            " AND NOT EXISTS (SELECT 1 FROM swaps s WHERE s.order_id = o.id)"
            " ORDER BY o.created_at LIMIT ?",
            (ts(created_before), limit),
        )
        return [order_of_row(row) for row in rows]

    async def claim_swap(self, order: StoredOrder, holder: str, until: datetime) -> Swap | None:
        """Claim the replacement of ``order``: the one caller that gets the swap, ever.

        Returns:
            The new swap (state ``claimed``, held by ``holder`` until ``until``), or None
            when the order has been claimed before (by anyone, in any state).
        """
        now = ts(self._now())
        rows = await self._write_returning(
            "INSERT INTO swaps (order_id, user_id, state, claimed_by, claimed_until,"
            " created_at, updated_at) VALUES (?, ?, 'claimed', ?, ?, ?, ?)"
            " ON CONFLICT (order_id) DO NOTHING RETURNING *",
            (order.id, order.user_id, holder, ts(until), now, now),
        )
        return _swap(rows[0]) if rows else None

    async def swaps_to_resume(self, holder: str, limit: int = 50) -> list[Swap]:
        """Unfinished swaps that are ``holder``'s (a restart) or whose hold ran out.

        The states listed are :data:`~bot.store.models.OPEN_SWAP_STATES`.
        """
        rows = await self._fetch(
            "SELECT * FROM swaps WHERE state IN ('claimed', 'cancelled', 'buying', 'bought')"
            " AND (claimed_by = ? OR claimed_until <= ?) ORDER BY created_at LIMIT ?",
            (holder, ts(self._now()), limit),
        )
        return [_swap(row) for row in rows]

    async def take_swap(self, order_id: str, holder: str, until: datetime) -> Swap | None:
        """Hold an unfinished swap to work on it: ``holder``'s own, or one whose hold ran out."""
        now = self._now()
        rows = await self._write_returning(
            "UPDATE swaps SET claimed_by = ?, claimed_until = ?"
            " WHERE order_id = ? AND state IN ('claimed', 'cancelled', 'buying', 'bought')"
            " AND (claimed_by = ? OR claimed_until <= ?) RETURNING *",
            (holder, ts(until), order_id, holder, ts(now)),
        )
        return _swap(rows[0]) if rows else None

    async def advance_swap(
        self,
        order_id: str,
        seen: SwapState,
        state: SwapState,
        *,
        token: str | None = None,
        new_order_id: str | None = None,
    ) -> bool:
        """Move a swap from ``seen`` to ``state`` (and record the token / new order).

        Returns:
            False, writing nothing, when the swap is no longer in ``seen``.
        """
        changed = await self._write(
            "UPDATE swaps SET state = ?, token = COALESCE(?, token),"
            " new_order_id = COALESCE(?, new_order_id), updated_at = ?"
            " WHERE order_id = ? AND state = ?",
            (state.value, token, new_order_id, ts(self._now()), order_id, seen.value),
        )
        return changed == 1

    async def abandon_swap(self, order_id: str) -> bool:
        """The user cancelled the order, or switched auto-replace off: a swap that has not
        confirmed its refund yet buys nothing (it ends ``gave_up``).

        Returns:
            True if a swap was stopped.
        """
        changed = await self._write(
            "UPDATE swaps SET state = 'gave_up', updated_at = ?"
            " WHERE order_id = ? AND state = 'claimed'",
            (ts(self._now()), order_id),
        )
        return changed == 1

    async def get_swap(self, order_id: str) -> Swap | None:
        row = await self._fetch_one("SELECT * FROM swaps WHERE order_id = ?", (order_id,))
        return None if row is None else _swap(row)

    async def mark_replacement(
        self,
        order_id: str,
        *,
        replaced_from: str,
        replaces_left: int,
        confirmed_cents: int,
    ) -> None:
        """The order ``order_id`` replaces the number ``replaced_from``: it replaces itself
        too (while ``replaces_left``), at no more than ``confirmed_cents``."""
        await self._write(
            "UPDATE orders SET auto_replace = 1, replaced_from = ?, replaces_left = ?,"
            " confirmed_cents = ?, updated_at = ? WHERE id = ?",
            (replaced_from, replaces_left, confirmed_cents, ts(self._now()), order_id),
        )

    async def mark_replaced(
        self, order_id: str, replaced_by: str, replaces_left: int, *, card_handed_over: bool
    ) -> None:
        """Record the number that replaced the order (``""``: none could be bought).

        Args:
            card_handed_over: The replacement shows itself in this order's card message
                now: this order forgets it, so nothing redraws the message as this order.
        """
        forget = int(card_handed_over)
        await self._write(
            "UPDATE orders SET replaced_by = ?, replaces_left = ?, updated_at = ?,"
            " card_message_id = CASE WHEN ? = 1 THEN NULL ELSE card_message_id END,"
            " card_hash = CASE WHEN ? = 1 THEN NULL ELSE card_hash END,"
            " card_retry_at = CASE WHEN ? = 1 THEN NULL ELSE card_retry_at END"
            " WHERE id = ?",
            (replaced_by, replaces_left, ts(self._now()), forget, forget, forget, order_id),
        )
