import sqlite3
from pathlib import Path

import pytest

from bot.store import Store, migrations
from bot.store.migrations import MIGRATIONS

from .conftest import USER


def pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


async def test_open_creates_directory_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.sqlite3"
    store = await Store.open(path)
    await store.close()
    assert pragma(path, "user_version") == len(MIGRATIONS)
    assert pragma(path, "journal_mode") == "wal"
    assert {
        "users",
        "orders",
        "sms_deliveries",
        "purchases",
        "recent_services",
        "ptb_conversations",
        "ptb_data",
    } <= tables(path)


async def test_reopen_is_idempotent_and_keeps_data(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.ensure_user(USER, "it")
    await store.close()
    schema = tables(db_path)
    for _ in range(3):
        store = await Store.open(db_path)
        user = await store.get_user(USER)
        await store.close()
        assert user is not None
        assert user.language == "it"
    assert tables(db_path) == schema
    assert pragma(db_path, "user_version") == len(MIGRATIONS)


async def test_memory_database() -> None:
    store = await Store.open(":memory:")
    await store.ensure_user(USER, None)
    assert await store.users_count() == 1
    await store.close()


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    with pytest.raises(sqlite3.IntegrityError):
        await store.touch_service(424242, "tg")
    assert await store.recent_services(424242) == []
    await store.close()


async def test_newer_schema_is_refused(db_path: Path) -> None:
    await (await Store.open(db_path)).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await Store.open(db_path)


async def test_failed_migration_is_rolled_back(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await Store.open(db_path)).close()
    broken = "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(sqlite3.OperationalError):
        await Store.open(db_path)
    assert pragma(db_path, "user_version") == len(MIGRATIONS)
    assert "half_done" not in tables(db_path)
    fixed = "CREATE TABLE half_done (x INTEGER);"
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, fixed))
    await (await Store.open(db_path)).close()
    assert pragma(db_path, "user_version") == len(MIGRATIONS) + 1
    assert "half_done" in tables(db_path)
