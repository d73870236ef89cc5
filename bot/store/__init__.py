"""Storage layer: users, orders, SMS deliveries and purchases, on SQLite or PostgreSQL."""

from bot.store.db import Database, SqliteDatabase
from bot.store.errors import StoreUnavailableError
from bot.store.models import (
    FINAL_STATUSES,
    Delivery,
    DeliveryState,
    Purchase,
    PurchaseState,
    StoredOrder,
    User,
)
from bot.store.store import PURCHASE_TTL, Clock, Store, open_store

__all__ = [
    "FINAL_STATUSES",
    "PURCHASE_TTL",
    "Clock",
    "Database",
    "Delivery",
    "DeliveryState",
    "Purchase",
    "PurchaseState",
    "SqliteDatabase",
    "Store",
    "StoreUnavailableError",
    "StoredOrder",
    "User",
    "open_store",
]
