"""The database adapter under :class:`bot.store.Store`: one SQL text, two backends.

The store writes its SQL once, with ``?`` placeholders, and reads rows by column name. A
:class:`Database` runs it on SQLite (:class:`SqliteDatabase`) or, with
``bot.store.postgres.PostgresDatabase``, on PostgreSQL.

Outside a transaction, :meth:`Database.fetch` is a plain read and :meth:`Database.execute`
/ :meth:`Database.fetch_returning` run one data-changing statement in a transaction of its
own. :meth:`Database.transaction` groups several statements into one all-or-nothing unit;
the object it yields has the same four methods.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import aiosqlite

from bot.store.errors import StoreUnavailableError

__all__ = ["Database", "Dialect", "Executor", "Params", "Row", "SqliteDatabase"]

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[object]

# sqlite3.OperationalError messages that mean "not right now" rather than a bad statement.
_SQLITE_UNAVAILABLE: Final = (
    "database is locked",
    "disk i/o error",
    "database or disk is full",
    "unable to open database file",
)

_SQLITE_PRAGMAS: Final = (
    "journal_mode = WAL",
    "synchronous = NORMAL",
    "foreign_keys = ON",
)


async def _pragma(conn: aiosqlite.Connection, pragma: str, *, within: float) -> None:
    """Run one PRAGMA, retrying "database is locked" for up to ``within`` seconds.

    Switching a new file to WAL while another connection does the same can fail at once
    with "database is locked": SQLite does not call the busy handler there (seen with
    replicas, or the tests' four stores, opening one new file together).
    """
    deadline = time.monotonic() + within
    while True:
        try:
            await conn.execute(f"PRAGMA {pragma}")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.05)


def _private_file(path: Path) -> None:
    """Make ``path``'s folder 0700 and the file itself 0600, creating both if missing.

    The database holds codes, phone numbers and encrypted keys: no other local user may
    read it. The file is created with mode 0600 before SQLite opens it, and modes left
    looser by an older version are tightened.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _restrict(path.parent, 0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    _restrict(path, 0o600)


def _restrict(path: Path, mode: int) -> None:
    """chmod ``path`` to ``mode`` if it exists and is looser; warn if that is not allowed."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode:
        try:
            path.chmod(mode)
        except OSError as exc:
            log.warning("cannot restrict %s to mode %o: %s", path, mode, exc.strerror)


class Row(Protocol):
    """A result row (``sqlite3.Row`` or ``asyncpg.Record``), read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


class Executor(ABC):
    """What runs SQL: a whole database, or one open transaction of it."""

    @abstractmethod
    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query and return all its rows."""

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """Run a query and return its first row, or None."""
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one data-changing statement; return the number of rows it changed."""

    @abstractmethod
    async def fetch_returning(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one data-changing statement with ``RETURNING``; return the rows it returned."""


class Database(Executor):
    """A connection (pool) to one database. See the module docstring for the contract."""

    dialect: Dialect

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Executor]:
        """Run the statements of the ``async with`` body in one transaction.

        Committed when the body returns, rolled back when it raises (or is cancelled).
        """

    @abstractmethod
    async def schema_version(self) -> int:
        """The number of migrations applied to this database."""

    @abstractmethod
    async def apply_migration(self, version: int, script: str) -> bool:
        """Run ``script`` (several statements) and set the schema version to ``version``.

        Both happen in one transaction, so a failure leaves neither. Nothing is run if the
        database is already at ``version`` or beyond (another process got there first).

        Returns:
            True if this call applied the script.
        """

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query right now."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connections; waits for a running operation to finish first."""


class _SqliteFaults:
    """Turns SQLite's availability errors into :class:`StoreUnavailableError`.

    A plain context manager (``with _SQLITE_FAULTS:``), not a generator-based one: it wraps
    every statement the bot runs.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if isinstance(exc, sqlite3.OperationalError) and any(
            text in str(exc).lower() for text in _SQLITE_UNAVAILABLE
        ):
            raise StoreUnavailableError(f"SQLite: {exc}") from exc


_SQLITE_FAULTS: Final = _SqliteFaults()


def _statements(script: str) -> list[str]:
    """Split an SQL script into its statements (``;`` inside literals and comments kept)."""
    statements: list[str] = []
    current: list[str] = []
    for char in script:
        current.append(char)
        if char == ";" and sqlite3.complete_statement("".join(current)):
            statements.append("".join(current).strip())
            current = []
    rest = "".join(current).strip()
    if rest:  # a last statement without ";" (an incomplete one fails when it runs)
        statements.append(rest)
    return statements


class _SqliteTransaction(Executor):
    """Statements inside an open SQLite transaction (the owner already holds the lock)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        # One trip to aiosqlite's thread instead of two (a cursor's execute, then its close):
        # the rows changed are the difference in the connection's change count, which is
        # the cursor's rowcount as long as the schema has no triggers.
        before = self._conn.total_changes
        await self._conn.execute_fetchall(sql, params)
        return self._conn.total_changes - before

    async def fetch_returning(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.fetch(sql, params)


class _Writing:
    """The write lock of a :class:`SqliteDatabase`, held for one write (a statement or a
    transaction); fails at once if a write ahead failed as unavailable while this one waited.

    A plain async context manager, not a generator-based one: it wraps most of the bot's
    statements.
    """

    __slots__ = ("_database", "_seen")

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database
        self._seen = database._timeouts

    async def __aenter__(self) -> None:
        database = self._database
        await database._lock.acquire()
        if database._timeouts != self._seen:
            database._lock.release()
            raise StoreUnavailableError("SQLite: database is locked (the write ahead failed)")

    async def __aexit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if isinstance(exc, StoreUnavailableError):
            self._database._timeouts += 1
        self._database._lock.release()


class SqliteDatabase(Database):
    """SQLite through one aiosqlite connection, in WAL mode.

    All statements go through one ``asyncio.Lock`` and every write runs in
    ``BEGIN IMMEDIATE … COMMIT``: with a single shared connection, a statement from another
    task must never land inside someone else's open transaction (it would be committed or
    rolled back with it), and multi-statement operations must be all-or-nothing.

    The database belongs to one bot process (SQLite's own locking still protects the file,
    and ``busy_timeout`` covers short outside access such as a backup).

    When a write waits out ``busy_timeout`` for a lock held outside the process and fails,
    the writes that queued behind it meanwhile fail at once instead of each waiting it out
    in turn: one connection serves every task, so a user's update would otherwise wait
    behind every background job's write before hearing "temporarily unavailable". A write
    asked for after the failure waits for the lock again as usual.
    """

    __slots__ = ("_conn", "_lock", "_timeouts", "_tx")
    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._tx = _SqliteTransaction(conn)
        self._timeouts = 0  # writes failed as unavailable so far

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout: float = 5.0) -> SqliteDatabase:
        """Open (creating if needed) the database file at ``path``.

        Args:
            path: Database file; its parent directory is created. ``":memory:"`` gives a
                throw-away in-memory database.
            busy_timeout: Seconds to wait for another connection's write lock before a
                statement fails with :class:`StoreUnavailableError`.
        """
        if str(path) != ":memory:":
            await asyncio.to_thread(_private_file, Path(path))
        with _SQLITE_FAULTS:
            conn = await aiosqlite.connect(path, isolation_level=None)
            try:
                conn.row_factory = sqlite3.Row
                # busy_timeout first: switching to WAL takes a lock that another connection
                # opening the same new file may hold for a moment.
                for pragma in (f"busy_timeout = {round(busy_timeout * 1000)}", *_SQLITE_PRAGMAS):
                    await _pragma(conn, pragma, within=busy_timeout)
            except BaseException:
                await conn.close()
                raise
        if str(path) != ":memory:":
            # SQLite creates -wal and -shm with the database's mode; older ones may be looser.
            for suffix in ("-wal", "-shm"):
                await asyncio.to_thread(_restrict, Path(f"{path}{suffix}"), 0o600)
        return cls(conn)

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            with _SQLITE_FAULTS:
                return await self._tx.fetch(sql, params)

    # One statement needs no BEGIN IMMEDIATE ... COMMIT around it (two trips to aiosqlite's
    # thread each): outside a transaction it is a transaction of its own, and a statement
    # that writes takes the write lock as it starts, waiting out busy_timeout like BEGIN
    # IMMEDIATE. The lock still keeps it out of another task's open transaction.

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with _Writing(self):
            with _SQLITE_FAULTS:
                return await self._tx.execute(sql, params)

    async def fetch_returning(self, sql: str, params: Params = ()) -> list[Row]:
        async with _Writing(self):
            with _SQLITE_FAULTS:
                return await self._tx.fetch(sql, params)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Executor]:
        async with _Writing(self), self._write() as tx:
            yield tx

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Executor]:
        """One ``BEGIN IMMEDIATE … COMMIT``; the caller holds ``_lock``."""
        with _SQLITE_FAULTS:
            try:
                # Inside the try: if the caller is cancelled while BEGIN is queued, BEGIN still
                # runs on aiosqlite's thread, and the rollback queued after it must undo it.
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._tx
            except BaseException:
                await self._conn.rollback()  # a no-op when no transaction is open
                raise
            await self._conn.commit()

    def transaction(self) -> AbstractAsyncContextManager[Executor]:
        return self._transaction()

    async def schema_version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return 0 if row is None else int(row["user_version"])

    async def apply_migration(self, version: int, script: str) -> bool:
        # Statement by statement inside BEGIN IMMEDIATE, not executescript(), which commits
        # any open transaction first: the version must be read under the write lock, so that
        # another connection migrating the same file at the same moment is seen.
        async with self._transaction() as tx:
            current = await tx.fetch_one("PRAGMA user_version")
            if current is not None and int(current["user_version"]) >= version:
                return False
            for statement in _statements(script):
                await tx.execute(statement)
            await tx.execute(f"PRAGMA user_version = {int(version)}")
        return True

    async def ping(self) -> None:
        await self.fetch("SELECT 1")

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()
