"""Purchases: single-use confirmation tokens offered for a price, claimed by the one caller
that creates the order, settled, and reconciled when the create request's answer was lost."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final

from bot.store.base import TOKEN_BYTES, Repository, dt, opt_dt, opt_ts, ts
from bot.store.db import Row
from bot.store.models import Purchase, PurchaseState

__all__ = ["PURCHASE_TTL", "PurchasesRepository"]

PURCHASE_TTL: Final = timedelta(minutes=10)
"""How long a purchase confirmation button stays valid (prices and stock move)."""

_FINISHED_PURCHASE: Final = frozenset(
    {PurchaseState.DONE, PurchaseState.FAILED, PurchaseState.UNKNOWN}
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
        created_at=dt(row["created_at"]),
        updated_at=dt(row["updated_at"]),
        reconcile_after=opt_dt(row["reconcile_after"]),
        auto_replace=bool(row["auto_replace"]),
    )


class PurchasesRepository(Repository):
    """The ``purchases`` table."""

    __slots__ = ()

    async def offer_purchase(
        self,
        user_id: int,
        service: str,
        service_name: str,
        country_id: str,
        country_slug: str,
        price_cents: int,
        *,
        auto_replace: bool = False,
    ) -> Purchase:
        """Create a single-use confirmation with a fresh random token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = ts(self._now())
        rows = await self._write_returning(
            "INSERT INTO purchases (token, user_id, service, service_name, country_id,"
            " country_slug, price_cents, state, created_at, updated_at, auto_replace)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'offered', ?, ?, ?) RETURNING *",
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
                int(auto_replace),
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
            (user_id, service, country_id, price_cents, ts(self._now() - max_age)),
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
            (ts(now + hold), ts(now), token, user_id, ts(now - max_age)),
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
                opt_ts(reconcile_after),
                ts(self._now()),
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
            (ts(self._now()),),
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
