import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot.store import Store, migrations, open_store
from bot.store.migrations import MIGRATIONS
from bot.store.postgres import numbered_placeholders

from .conftest import INTEGRITY_ERRORS, USER, Backend


def pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def pg_fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def raw_execute(backend: Backend, sql: str, *args: object) -> None:
    """Run ``sql`` (``?`` placeholders) on a connection of its own, outside any Store."""
    if backend.url is None:
        with sqlite3.connect(backend.path) as conn:
            conn.execute(sql, args)
        return
    await pg_fetch(backend.url, numbered_placeholders(sql), *args)


async def tables(backend: Backend) -> set[str]:
    if backend.url is None:
        with sqlite3.connect(backend.path) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {name for (name,) in rows}
    records = await pg_fetch(
        backend.url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    return {record["tablename"] for record in records}


async def schema_version(backend: Backend) -> int:
    if backend.url is None:
        version = pragma(backend.path, "user_version")
        assert isinstance(version, int)
        return version
    records = await pg_fetch(backend.url, "SELECT version FROM schema_version")
    assert len(records) == 1
    return int(records[0]["version"])


async def set_schema_version(backend: Backend, version: int) -> None:
    if backend.url is None:
        with sqlite3.connect(backend.path) as conn:
            conn.execute(f"PRAGMA user_version = {version}")
        return
    await pg_fetch(backend.url, "UPDATE schema_version SET version = $1", version)


async def test_open_creates_directory_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.sqlite3"
    store = await Store.open(path)
    await store.close()
    assert pragma(path, "user_version") == len(MIGRATIONS)
    assert pragma(path, "journal_mode") == "wal"


async def test_schema_on_both_backends(backend: Backend) -> None:
    await (await backend.open()).close()
    assert await schema_version(backend) == len(MIGRATIONS)
    expected = {
        "users",
        "orders",
        "sms_deliveries",
        "purchases",
        "recent_services",
        "leases",
        "replicas",
        "webhook_updates",
        "broadcasts",
        "broadcast_recipients",
        "fleet_counters",
        "favourites",
        "alerts",
        "delivery_rates",
        "secret_check",
        "swaps",
    }
    if backend.dialect == "postgresql":
        expected.add("schema_version")
    assert await tables(backend) == expected


async def test_upgrade_from_v2_keeps_data_and_drops_ptb_tables(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:2])
    await (await backend.open()).close()
    # Rows as the v2 bot wrote them (this Store reads v3 rows only).
    at = "2026-05-22T08:00:00.000000+00:00"
    await raw_execute(
        backend,
        "INSERT INTO users (telegram_id, language, created_at, updated_at) VALUES (?, ?, ?, ?)",
        USER,
        "it",
        at,
        at,
    )
    await raw_execute(
        backend,
        "INSERT INTO purchases (token, user_id, service, service_name, country_id,"
        " country_slug, price_cents, state, created_at, updated_at)"
        " VALUES (?, ?, 'tg', 'Telegram', '7', 'my', 32, 'unknown', ?, ?)",
        "tok",
        USER,
        at,
        at,
    )
    assert {"ptb_conversations", "ptb_data"} <= await tables(backend)
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    store = await backend.open()
    try:
        user = await store.get_user(USER)
        assert user is not None
        assert (user.language, user.dialog) == ("it", {})
        upgraded = await store.get_purchase("tok")
        assert upgraded is not None
        assert upgraded.reconcile_after is None
        assert [p.token for p in await store.purchases_to_reconcile()] == ["tok"]
    finally:
        await store.close()
    assert not {"ptb_conversations", "ptb_data"} & await tables(backend)
    assert await schema_version(backend) == len(MIGRATIONS)


async def test_postgres_types(pg_backend: Backend) -> None:
    await (await pg_backend.open()).close()
    records = await pg_fetch(
        pg_backend.pg_url,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public'",
    )
    types = {(r["table_name"], r["column_name"]): r["data_type"] for r in records}
    assert types["users", "telegram_id"] == "bigint"
    assert types["users", "key_cipher"] == "bytea"
    assert types["orders", "user_id"] == "bigint"
    assert types["orders", "created_at"] == "text"
    assert types["sms_deliveries", "message_id"] == "bigint"


async def test_reopen_is_idempotent_and_keeps_data(backend: Backend) -> None:
    store = await backend.open()
    await store.ensure_user(USER, "it")
    await store.close()
    schema = await tables(backend)
    for _ in range(3):
        store = await backend.open()
        user = await store.get_user(USER)
        await store.close()
        assert user is not None
        assert user.language == "it"
    assert await tables(backend) == schema
    assert await schema_version(backend) == len(MIGRATIONS)


async def test_replicas_starting_together_migrate_once(backend: Backend) -> None:
    # Without the advisory lock (PostgreSQL) or the version read under BEGIN IMMEDIATE
    # (SQLite), a second CREATE TABLE users would fail.
    stores = await asyncio.gather(*(backend.open(max_size=1) for _ in range(4)))
    try:
        await asyncio.gather(*(s.ensure_user(USER + n, None) for n, s in enumerate(stores)))
        assert await stores[0].users_count() == 4
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert await schema_version(backend) == len(MIGRATIONS)


async def test_memory_database() -> None:
    store = await Store.open(":memory:")
    await store.ensure_user(USER, None)
    assert await store.users_count() == 1
    await store.close()


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(INTEGRITY_ERRORS):
        await store.touch_service(424242, "tg")
    assert await store.recent_services(424242) == []


async def test_newer_schema_is_refused(backend: Backend) -> None:
    await (await backend.open()).close()
    await set_schema_version(backend, len(MIGRATIONS) + 1)
    with pytest.raises(RuntimeError, match="newer"):
        await backend.open()


async def test_failed_migration_is_rolled_back(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await backend.open()).close()
    broken = "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises((sqlite3.OperationalError, asyncpg.UndefinedTableError)):
        await backend.open()
    assert await schema_version(backend) == len(MIGRATIONS)
    assert "half_done" not in await tables(backend)
    fixed = "CREATE TABLE half_done (x INTEGER);"
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, fixed))
    await (await backend.open()).close()
    assert await schema_version(backend) == len(MIGRATIONS) + 1
    assert "half_done" in await tables(backend)


async def test_open_store_picks_the_backend(backend: Backend, tmp_path: Path) -> None:
    store = await open_store(backend.url, tmp_path / "data", max_connections=2)
    try:
        assert store.dialect == backend.dialect
        await store.ensure_user(USER, None)
        assert await store.users_count() == 1
    finally:
        await store.close()
    assert (tmp_path / "data" / "bot.sqlite3").exists() == (backend.url is None)
