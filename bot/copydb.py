"""``python -m bot copy-db --to postgresql://…``: move a SQLite deployment to PostgreSQL.

Copies every table of the SQLite database in ``BOT_DATA_DIR`` into an empty PostgreSQL
database, after bringing both to the current schema version (the SQLite file is migrated
in place, as the bot itself would on its next start). The copy is one transaction: it
lands whole or not at all. A target that already holds rows is refused, so running it twice
cannot mix two copies. Stop the bot first: writes made during the copy would be lost.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import aiosqlite
import asyncpg

from bot.store import Store, StoreUnavailableError
from bot.store.postgres import PostgresDatabase
from bot.store.store import SQLITE_FILE

__all__ = ["CopyError", "CopyReport", "copy_database", "main"]

_BATCH: Final = 2000
# Store-internal bookkeeping that is not data: each backend keeps its own.
_NOT_COPIED: Final = frozenset({"schema_version"})


class CopyError(Exception):
    """The copy cannot be made (the message says why); nothing was written."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What was copied: the schema version and the rows per table, in copy order."""

    schema_version: int
    rows: dict[str, int]

    def lines(self) -> list[str]:
        """Human-readable summary, one table per line."""
        width = max((len(table) for table in self.rows), default=0)
        return [
            f"schema version {self.schema_version}",
            *(f"{table:<{width}}  {count:>9,}" for table, count in self.rows.items()),
            f"{'total':<{width}}  {sum(self.rows.values()):>9,}",
        ]


def _describe(url: str) -> str:
    """The target as shown to the operator: host and database, never the password."""
    parts = urlsplit(url)
    return f"{parts.path.lstrip('/') or '(default)'} on {parts.hostname or 'localhost'}"


def _copy_order(tables: dict[str, set[str]]) -> list[str]:
    """Table names with every table after those its foreign keys point to."""
    ordered: list[str] = []
    pending = dict(tables)
    while pending:
        ready = sorted(t for t, deps in pending.items() if not (deps - {t}) - set(ordered))
        if not ready:
            raise CopyError(f"circular foreign keys between tables {sorted(pending)}")
        ordered.extend(ready)
        for table in ready:
            del pending[table]
    return ordered


async def _sqlite_tables(conn: aiosqlite.Connection) -> dict[str, list[str]]:
    """Table name → its columns in order (user tables only)."""
    tables = await conn.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    columns: dict[str, list[str]] = {}
    for (name,) in tables:
        info = await conn.execute_fetchall(f'PRAGMA table_info("{name}")')
        columns[name] = [row[1] for row in info]
    return columns


async def _sqlite_dependencies(
    conn: aiosqlite.Connection, tables: Sequence[str]
) -> dict[str, set[str]]:
    """Table name → the tables its foreign keys point to."""
    dependencies: dict[str, set[str]] = {}
    for name in tables:
        keys = await conn.execute_fetchall(f'PRAGMA foreign_key_list("{name}")')
        dependencies[name] = {row[2] for row in keys}
    return dependencies


async def _sqlite_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0]) if rows else 0


async def _postgres_types(conn: asyncpg.Connection) -> dict[str, dict[str, str]]:
    """Table name → column → data type, for the target's public schema."""
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
    )
    types: dict[str, dict[str, str]] = {}
    for row in rows:
        types.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    return types


def _converter(data_type: str) -> type | None:
    """SQLite's type affinity may hand back a number for a TEXT column and the reverse."""
    if data_type in ("bigint", "integer", "smallint"):
        return int
    if data_type == "text":
        return str
    return None


async def copy_database(source: Path, target_url: str) -> CopyReport:
    """Copy the SQLite database ``source`` into the empty PostgreSQL database ``target_url``.

    Args:
        source: The SQLite file (``bot.sqlite3`` in ``BOT_DATA_DIR``).
        target_url: ``postgresql://user:password@host:port/database``.

    Returns:
        The schema version and the number of rows copied per table.

    Raises:
        CopyError: No source database, a target that is not PostgreSQL, is not empty, or
            whose tables differ from the source's. Nothing was written to the target.
        StoreUnavailableError: A database cannot be reached.
    """
    if not await asyncio.to_thread(source.is_file):  # Store.open would create an empty one
        raise CopyError(f"no SQLite database at {source}")
    if urlsplit(target_url).scheme not in ("postgresql", "postgres"):
        raise CopyError("the target must be a postgresql:// URL")
    # Both stores bring their schemas to this bot's version (the target gets its tables).
    await (await Store.open(source)).close()
    database = await PostgresDatabase.open(target_url, min_size=1, max_size=1)
    store = await Store.over(database)
    try:
        async with aiosqlite.connect(source) as sqlite:
            columns = await _sqlite_tables(sqlite)
            order = _copy_order(await _sqlite_dependencies(sqlite, list(columns)))
            version = await _sqlite_version(sqlite)
            async with database.raw_connection() as target:
                rows = await _copy(sqlite, target, columns, order)
    finally:
        await store.close()
    return CopyReport(schema_version=version, rows=rows)


async def _copy(
    sqlite: aiosqlite.Connection,
    target: asyncpg.Connection,
    columns: dict[str, list[str]],
    order: list[str],
) -> dict[str, int]:
    types = await _postgres_types(target)
    copied: dict[str, int] = {}
    async with target.transaction():
        target_tables = set(types) - _NOT_COPIED
        if target_tables != set(columns):
            raise CopyError(
                f"the tables differ: only in SQLite {sorted(set(columns) - target_tables)},"
                f" only in PostgreSQL {sorted(target_tables - set(columns))}"
            )
        # Nobody writes to the target while it is checked for emptiness and filled.
        tables = ", ".join(f'"{table}"' for table in order)
        await target.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
        for table in order:
            count = await target.fetchval(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608
            if count:
                raise CopyError(
                    f"the target database is not empty (table {table} has {count} rows);"
                    " copy-db only fills an empty database"
                )
        for table in order:
            names = columns[table]
            if set(names) != set(types[table]):
                raise CopyError(f"table {table} has different columns in the two databases")
            convert = [_converter(types[table][name]) for name in names]
            select = ", ".join(f'"{name}"' for name in names)
            copied[table] = 0
            async with sqlite.execute(f'SELECT {select} FROM "{table}"') as cursor:  # noqa: S608
                while batch := await cursor.fetchmany(_BATCH):
                    records = [
                        tuple(
                            value if to is None or value is None else to(value)
                            for to, value in zip(convert, row, strict=True)
                        )
                        for row in batch
                    ]
                    try:
                        await target.copy_records_to_table(table, records=records, columns=names)
                    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                        raise CopyError(
                            f"PostgreSQL refused a row of table {table} ({exc}); nothing was copied"
                        ) from exc
                    copied[table] += len(records)
    return copied


def main(target_url: str, data_dir: Path | None = None) -> int:
    """Run the copy from ``data_dir`` (default ``BOT_DATA_DIR``, else ``./data``); print counts.

    Returns:
        The exit status: 0 copied, 1 refused or failed (the reason on stderr).
    """
    directory = data_dir or Path(os.environ.get("BOT_DATA_DIR", "").strip() or "data")
    source = directory / SQLITE_FILE
    try:
        report = asyncio.run(copy_database(source, target_url))
    except (CopyError, StoreUnavailableError, sqlite3.Error) as exc:
        print(f"copy-db: {exc}", file=sys.stderr)
        return 1
    print(f"copied {source} into {_describe(target_url)}:")
    for line in report.lines():
        print(f"  {line}")
    return 0
