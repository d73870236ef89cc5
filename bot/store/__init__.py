"""Storage layer: SQLite database of users, orders, SMS deliveries and purchases."""

from bot.store.models import (
    FINAL_STATUSES,
    Delivery,
    DeliveryState,
    Purchase,
    PurchaseState,
    StoredOrder,
    User,
)
from bot.store.persistence import SqlitePersistence
from bot.store.store import PURCHASE_TTL, PtbDataKind, Store

__all__ = [
    "FINAL_STATUSES",
    "PURCHASE_TTL",
    "Delivery",
    "DeliveryState",
    "PtbDataKind",
    "Purchase",
    "PurchaseState",
    "SqlitePersistence",
    "Store",
    "StoredOrder",
    "User",
]
