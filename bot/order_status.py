"""The statuses of a jiema order, as the API spells them, and which of them end an order.

The API may add statuses: an unknown one is kept as the string it sent (fields holding a
status are ``str``), shown as written, and treated as not final, so the order stays watched.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OrderStatus(StrEnum):
    """Where an order is in its life (the API's ``status``)."""

    WAITING = "WAITING"
    """A number is assigned; no SMS yet."""
    RECEIVED = "RECEIVED"
    """At least one SMS arrived; another can be asked for."""
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    """Cancelled (by the user, or on expiry without an SMS): the price was refunded."""


FINAL_STATUSES: Final = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED}
)
"""Order statuses after which the API never changes the order again."""
