"""``SqliteDatabase.execute`` counts the rows a statement changed in one trip to aiosqlite's
thread, from the connection's change count: right only while the schema has no triggers."""

import sqlite3
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.db import SqliteDatabase


@pytest.fixture
async def database() -> SqliteDatabase:
    database = await SqliteDatabase.open(":memory:")
    await database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return database


async def test_execute_returns_the_rows_each_statement_changed(database: SqliteDatabase) -> None:
    assert await database.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')") == 3
    assert await database.execute("UPDATE t SET v = 'x' WHERE id < 3") == 2
    assert await database.execute("UPDATE t SET v = 'y' WHERE id = 99") == 0
    assert await database.execute("INSERT OR IGNORE INTO t VALUES (1, 'dup')") == 0
    upsert = "INSERT INTO t VALUES (3, 'z') ON CONFLICT (id) DO UPDATE SET v = excluded.v"
    assert await database.execute(upsert) == 1
    async with database.transaction() as tx:
        assert await tx.execute("DELETE FROM t WHERE id > 1") == 2
    assert [(row["id"], row["v"]) for row in await database.fetch("SELECT id, v FROM t")] == [
        (1, "x")
    ]
    await database.close()


async def test_the_schema_has_no_triggers(tmp_path: Path) -> None:
    """A trigger's changes would be counted as the statement's own (a lease "taken" twice)."""
    path = tmp_path / "bot.sqlite3"
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as conn:
        triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    assert triggers == []
