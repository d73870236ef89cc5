"""Delivery rates: counters per service, country and day of the orders the bot has seen.

An order is counted once, when it gets its first SMS (delivered, with the wait) or ends
without one (not delivered). Counting flags the order row (``rate_counted``) and adds to
its day's counters in one transaction, so two replicas reading the same order count it
once. Reading the rates sums at most a week of daily rows per country: no history scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from bot.store.base import Repository, dt

__all__ = ["WAIT_BOUNDS", "DeliveryCounts", "RatesRepository"]

WAIT_BOUNDS: Final = (15, 30, 45, 60, 90, 120, 180, 300, 600)
"""Upper bounds (seconds, inclusive) of the wait histogram's buckets ``w0``…``w8``; ``w9``
holds longer waits."""

_BUCKETS: Final = len(WAIT_BOUNDS) + 1
_COLUMNS: Final = tuple(f"w{i}" for i in range(_BUCKETS))


def wait_bucket(seconds: float) -> int:
    """The histogram bucket of a wait of ``seconds``."""
    return next((i for i, bound in enumerate(WAIT_BOUNDS) if seconds <= bound), _BUCKETS - 1)


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """One country's counters over a period.

    Attributes:
        country_id: The API's country id, as text.
        orders: Orders counted (delivered or ended without an SMS).
        delivered: Of those, the ones that got an SMS.
        waits: How many deliveries fell in each bucket of :data:`WAIT_BOUNDS` (then longer).
    """

    country_id: str
    orders: int
    delivered: int
    waits: tuple[int, ...]


class RatesRepository(Repository):
    """The ``delivery_rates`` table and ``orders.rate_counted``."""

    __slots__ = ()

    async def count_delivery(self, order_id: str, first_sms_after: timedelta | None) -> bool:
        """Count an order in its service and country's rate, once.

        Args:
            order_id: A stored order.
            first_sms_after: The wait from its creation to its first SMS, or None when it
                ended without one.

        Returns:
            True if this call counted it; False if it was counted before (or is unknown).
        """
        delivered = first_sms_after is not None
        waits = [0] * _BUCKETS
        if first_sms_after is not None:
            waits[wait_bucket(max(0.0, first_sms_after.total_seconds()))] = 1
        async with self._db.transaction() as tx:
            rows = await tx.fetch_returning(
                "UPDATE orders SET rate_counted = 1 WHERE id = ? AND rate_counted = 0"
                " RETURNING service, country_id, created_at",
                (order_id,),
            )
            if not rows:
                return False
            row = rows[0]
            columns = ", ".join(_COLUMNS)
            increments = ", ".join(f"{c} = delivery_rates.{c} + excluded.{c}" for c in _COLUMNS)
            await tx.execute(
                f"INSERT INTO delivery_rates (service, country_id, day, orders, delivered,"  # noqa: S608
                f" {columns}) VALUES (?, ?, ?, 1, ?, {', '.join('?' * _BUCKETS)})"
                " ON CONFLICT (service, country_id, day) DO UPDATE SET"
                " orders = delivery_rates.orders + 1,"
                f" delivered = delivery_rates.delivered + excluded.delivered, {increments}",
                (
                    row["service"],
                    row["country_id"],
                    dt(row["created_at"]).date().isoformat(),
                    int(delivered),
                    *waits,
                ),
            )
        return True

    async def delivery_counts(self, service: str, since: date) -> list[DeliveryCounts]:
        """Every country's counters for ``service`` over the days from ``since`` on."""
        sums = ", ".join(f"SUM({c}) AS {c}" for c in _COLUMNS)
        rows = await self._fetch(
            "SELECT country_id, SUM(orders) AS orders, SUM(delivered) AS delivered,"  # noqa: S608
            f" {sums} FROM delivery_rates WHERE service = ? AND day >= ?"
            " GROUP BY country_id ORDER BY country_id",
            (service, since.isoformat()),
        )
        return [
            DeliveryCounts(
                country_id=row["country_id"],
                orders=int(row["orders"]),
                delivered=int(row["delivered"]),
                waits=tuple(int(row[c]) for c in _COLUMNS),
            )
            for row in rows
        ]
