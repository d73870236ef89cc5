"""PostgreSQL backend of :class:`bot.store.db.Database`, over an asyncpg pool.

Transactions run at READ COMMITTED. The store's claims are single ``UPDATE … RETURNING`` or
``INSERT … ON CONFLICT`` statements, which PostgreSQL keeps atomic with any number of
writers (a concurrent writer waits for the row and re-checks the WHERE clause on its newest
version), so several replicas can share one database.

The pool heals by itself: when a connection turns out dead, all its idle connections are
replaced on their next use, so after a server restart one write may fail with
:class:`~bot.store.errors.StoreUnavailableError` (a read is retried once) and the next
calls succeed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Final

import asyncpg

from bot.store.db import Database, Dialect, Executor, Params, Row
from bot.store.errors import StoreUnavailableError

__all__ = ["PostgresDatabase", "numbered_placeholders"]

# Any constant shared by every replica: the key of the advisory lock that serialises
# migrations ("jiema" in ASCII).
_MIGRATION_LOCK: Final = 0x6A69656D61

_VERSION_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_version (
    singleton INTEGER PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
    version   INTEGER NOT NULL
)
"""

_INTERFACE_UNAVAILABLE: Final = ("closed", "closing", "connection was lost")


@functools.lru_cache(maxsize=512)
def numbered_placeholders(sql: str) -> str:
    """Rewrite the ``?`` placeholders of ``sql`` to PostgreSQL's ``$1 … $n``.

    A ``?`` inside a string literal, a quoted identifier or a ``--`` comment is left alone.
    """
    out: list[str] = []
    number = 0
    quote: str | None = None
    in_comment = False
    previous = ""
    for char in sql:
        if in_comment:
            in_comment = char != "\n"
        elif quote is not None:
            if char == quote:
                quote = None  # a doubled quote closes and reopens: same result
        elif char in "'\"":
            quote = char
        elif char == "-" and previous == "-":
            in_comment = True
        elif char == "?":
            number += 1
            out.append(f"${number}")
            previous = char
            continue
        out.append(char)
        previous = char
    return "".join(out)


def _rowcount(status: str) -> int:
    """Rows changed, from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _unavailable(exc: BaseException) -> bool:
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError  # SQLSTATE class 08: connection lost or refused
        | asyncpg.InsufficientResourcesError  # 53: too many connections, disk full, memory
        | asyncpg.OperatorInterventionError  # 57: shutdown, terminated backend, cannot connect
        | OSError  # refused or reset at the socket level
        | TimeoutError,  # no answer to connect
    ):
        return True
    if isinstance(exc, asyncpg.InterfaceError):  # "pool is closing", "connection is closed"
        return any(text in str(exc).lower() for text in _INTERFACE_UNAVAILABLE)
    # The protocol got a message it did not expect, e.g. the FATAL notice of a terminated
    # backend arriving while the connection sat idle in the pool: the connection is unusable.
    return isinstance(exc, asyncpg.InternalClientError)


@contextmanager
def _postgres_faults() -> Iterator[None]:
    """Turn PostgreSQL's availability errors into :class:`StoreUnavailableError`."""
    try:
        yield
    except StoreUnavailableError:
        raise
    except Exception as exc:
        if _unavailable(exc):
            raise StoreUnavailableError(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc
        raise


class _PostgresConnection(Executor):
    """Statements on one acquired connection (inside a transaction, or a single one)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        with _postgres_faults():
            return list(await self._conn.fetch(numbered_placeholders(sql), *params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        with _postgres_faults():
            status = await self._conn.execute(numbered_placeholders(sql), *params)
        return _rowcount(status)

    async def fetch_returning(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.fetch(sql, params)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection given back: nothing more than asyncpg's own
    cleanup (which rolls back a transaction left open).

    The default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release: one more round trip and four statements for each of the store's
    one-statement queries. The store never changes session state (no SET, LISTEN, cursors
    outside a transaction or session-level advisory locks; the migration lock is
    transaction-scoped), so there is nothing to undo.
    """
    del conn


class PostgresDatabase(Database):
    """PostgreSQL through an asyncpg pool. Create it with :meth:`open`."""

    __slots__ = ("_pool",)
    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls, url: str, *, min_size: int = 1, max_size: int = 10, command_timeout: float = 30.0
    ) -> PostgresDatabase:
        """Connect a pool to ``url`` (``postgresql://user:password@host:port/database``).

        Args:
            url: The database; its password never appears in errors raised from here.
            min_size: Connections kept open.
            max_size: Most connections at once (each replica has its own pool).
            command_timeout: Seconds before a statement is given up.

        Raises:
            StoreUnavailableError: The server cannot be reached or refuses connections.
        """
        with _postgres_faults():
            pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                command_timeout=command_timeout,
                reset=_keep_session,
            )
        return cls(pool)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            with _postgres_faults():
                async with self._pool.acquire() as conn:
                    yield conn
        except StoreUnavailableError:
            # One dead connection means the server went away (restart, failover, killed
            # backends): the pool's other idle connections are as dead, so replace them all
            # on their next acquire instead of failing once per connection.
            await self._pool.expire_connections()
            raise

    def raw_connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """An asyncpg connection of the pool, for tools that need more than the adapter
        offers (``copy-db`` uses COPY); its faults still become StoreUnavailableError."""
        return self._connection()

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        # A read is safe to repeat, so one lost connection costs no error (the pool has
        # been renewed by then); writes are not repeated: they may have been applied.
        try:
            async with self._connection() as conn:
                return await _PostgresConnection(conn).fetch(sql, params)
        except StoreUnavailableError:
            async with self._connection() as conn:
                return await _PostgresConnection(conn).fetch(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        # One statement outside a transaction block is its own (autocommitted) transaction.
        async with self._connection() as conn:
            return await _PostgresConnection(conn).execute(sql, params)

    async def fetch_returning(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.fetch(sql, params)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Executor]:
        async with self._connection() as conn:
            with _postgres_faults():
                async with conn.transaction():
                    yield _PostgresConnection(conn)

    def transaction(self) -> AbstractAsyncContextManager[Executor]:
        return self._transaction()

    async def schema_version(self) -> int:
        exists = await self.fetch_one("SELECT to_regclass('schema_version') IS NOT NULL AS e")
        if exists is None or not exists["e"]:
            return 0
        row = await self.fetch_one("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
        return 0 if row is None else int(row["v"])

    async def apply_migration(self, version: int, script: str) -> bool:
        async with self._connection() as conn, conn.transaction():
            with _postgres_faults():
                # Replicas starting together queue here; the lock ends with the transaction.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(_VERSION_TABLE)
                current = await conn.fetchval(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_version"
                )
            if current >= version:
                return False
            if current != version - 1:
                raise RuntimeError(f"cannot apply migration {version} to schema {current}")
            with _postgres_faults():
                await conn.execute(script)  # no arguments: several statements are allowed
                await conn.execute(
                    "INSERT INTO schema_version (singleton, version) VALUES (1, $1)"
                    " ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
                    version,
                )
        return True

    async def ping(self) -> None:
        await self.fetch("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()
