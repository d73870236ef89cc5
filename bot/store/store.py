"""The bot's database behind one object: :class:`Store` combines the repositories, one
module per responsibility, over a :class:`bot.store.db.Database`.

- :mod:`bot.store.users`: users, language, keys, chat state, recent services, muting
- :mod:`bot.store.orders`: orders, their cards and final notices
- :mod:`bot.store.outbox`: SMS codes to push to their chats
- :mod:`bot.store.purchases`: confirmation tokens, claims, reconciliation
- :mod:`bot.store.coordination`: leases, replica heartbeats, webhook update claims
- :mod:`bot.store.console`: /stats counts, fleet counters, broadcasts
- :mod:`bot.store.shop`: favourites, alerts, the top-up heads-up
- :mod:`bot.store.rates`: delivery rates (counters per service, country and day)
- :mod:`bot.store.privacy`: erasing a user, purging old SMS bodies and phone numbers
- :mod:`bot.store.swaps`: automatic replacement of numbers that got no SMS
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from bot.store.base import Clock
from bot.store.console import ConsoleRepository
from bot.store.coordination import CoordinationRepository
from bot.store.db import Database, SqliteDatabase
from bot.store.migrations import migrate
from bot.store.orders import OrdersRepository
from bot.store.outbox import OutboxRepository
from bot.store.privacy import PrivacyRepository
from bot.store.purchases import PURCHASE_TTL, PurchasesRepository
from bot.store.rates import RatesRepository
from bot.store.shop import FavouriteAdded, ShopRepository
from bot.store.swaps import SwapsRepository
from bot.store.users import UsersRepository

__all__ = [
    "PURCHASE_TTL",
    "SQLITE_FILE",
    "Clock",
    "FavouriteAdded",
    "Store",
    "open_store",
]

SQLITE_FILE: Final = "bot.sqlite3"
"""The SQLite database's file name in the data directory."""


class Store(
    UsersRepository,
    OrdersRepository,
    OutboxRepository,
    PurchasesRepository,
    CoordinationRepository,
    ConsoleRepository,
    ShopRepository,
    RatesRepository,
    PrivacyRepository,
    SwapsRepository,
):
    """Async access to the bot's database. Create it with :meth:`open` or :func:`open_store`."""

    __slots__ = ()

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

    async def close(self) -> None:
        """Close the database; waits for a running operation to finish first."""
        await self._db.close()

    async def ping(self) -> None:
        """Raise :class:`~bot.store.errors.StoreUnavailableError` unless the database answers."""
        await self._db.ping()


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
