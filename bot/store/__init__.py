"""Storage layer: users, orders, SMS deliveries and purchases, on SQLite or PostgreSQL."""

from bot.store.coordination import POLL_PREFIX
from bot.store.db import Database, SqliteDatabase
from bot.store.errors import StoreUnavailableError
from bot.store.models import (
    FINAL_STATUSES,
    OPEN_SWAP_STATES,
    Alert,
    AlertState,
    Delivery,
    DeliveryState,
    Favourite,
    Purchase,
    PurchaseState,
    StoredOrder,
    Swap,
    SwapState,
    User,
)
from bot.store.rates import WAIT_BOUNDS, DeliveryCounts
from bot.store.store import PURCHASE_TTL, Clock, FavouriteAdded, Store, open_store

__all__ = [
    "FINAL_STATUSES",
    "OPEN_SWAP_STATES",
    "POLL_PREFIX",
    "PURCHASE_TTL",
    "WAIT_BOUNDS",
    "Alert",
    "AlertState",
    "Clock",
    "Database",
    "Delivery",
    "DeliveryCounts",
    "DeliveryState",
    "Favourite",
    "FavouriteAdded",
    "Purchase",
    "PurchaseState",
    "SqliteDatabase",
    "Store",
    "StoreUnavailableError",
    "StoredOrder",
    "Swap",
    "SwapState",
    "User",
    "open_store",
]
