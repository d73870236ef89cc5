"""Database faults become StoreUnavailableError, and the store recovers by itself."""

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot.store import SqliteDatabase, Store, StoreUnavailableError, open_store
from bot.store.postgres import PostgresDatabase
from tests.pg import server_url

from .conftest import USER, Backend, user_of


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_locked_sqlite_is_unavailable_until_the_lock_is_gone(db_path: Path) -> None:
    store = await Store.over(await SqliteDatabase.open(db_path, busy_timeout=0.05))
    await store.ensure_user(USER, None)
    outsider = sqlite3.connect(db_path, isolation_level=None)
    try:
        outsider.execute("BEGIN IMMEDIATE")  # a writer from outside holds the write lock
        with pytest.raises(StoreUnavailableError, match="locked") as caught:
            await store.set_language(USER, "de")
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        outsider.execute("ROLLBACK")
    finally:
        outsider.close()
    await store.set_language(USER, "de")
    assert (await user_of(store, USER)).language == "de"
    await store.close()


async def test_writes_queued_behind_a_locked_write_fail_with_it(db_path: Path) -> None:
    """One connection serves every task: the writes waiting behind one that met an outside
    lock fail with it instead of each waiting out busy_timeout in turn; later ones wait."""
    store = await Store.over(await SqliteDatabase.open(db_path, busy_timeout=0.5))
    await store.ensure_user(USER, None)
    outsider = sqlite3.connect(db_path, isolation_level=None)
    try:
        outsider.execute("BEGIN IMMEDIATE")
        first = asyncio.create_task(store.set_language(USER, "de"))
        queued = [asyncio.create_task(store.set_language(USER, "fr")) for _ in range(3)]
        results = await asyncio.gather(first, *queued, return_exceptions=True)
        assert all(isinstance(r, StoreUnavailableError) for r in results), results
        assert "write ahead failed" not in str(results[0])  # the one that waited
        assert all("write ahead failed" in str(r) for r in results[1:])
        with pytest.raises(StoreUnavailableError, match=r"database is locked$"):
            await store.set_language(USER, "it")  # asked afterwards: waits for the lock again
        outsider.execute("ROLLBACK")
    finally:
        outsider.close()
    await store.set_language(USER, "de")
    assert (await user_of(store, USER)).language == "de"
    await store.close()


async def test_unreachable_postgres_is_unavailable() -> None:
    # Port 9 (discard) has no PostgreSQL on loopback: the connection is refused.
    url = "postgresql://postgres:s3cret-password@127.0.0.1:9/nothing"
    with pytest.raises(StoreUnavailableError) as caught:
        await open_store(url, Path("unused"))
    assert "s3cret-password" not in str(caught.value)


async def test_closed_pool_is_unavailable(pg_backend: Backend) -> None:
    store = await pg_backend.open()
    await store.close()
    with pytest.raises(StoreUnavailableError):
        await store.get_user(USER)


async def kill_connections(backend: Backend) -> int:
    """Terminate every server process connected to the backend's database (a restart)."""
    admin = await asyncpg.connect(server_url())
    try:
        killed = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            backend.pg_url.rsplit("/", 1)[-1],
        )
    finally:
        await admin.close()
    return len(killed)


async def test_pool_recovers_after_its_connections_are_killed(pg_backend: Backend) -> None:
    store = await pg_backend.open(max_size=3)
    try:
        await store.ensure_user(USER, "en")
        # Warm the pool up to three connections, then kill them all.
        await asyncio.gather(*(store.get_user(USER) for _ in range(6)))
        assert await kill_connections(pg_backend) >= 1
        assert (await user_of(store, USER)).language == "en"  # a read is retried once
        assert await kill_connections(pg_backend) >= 1
        try:
            await store.set_language(USER, "fr")
        except StoreUnavailableError:
            await store.set_language(USER, "fr")  # the very next call works again
        assert (await user_of(store, USER)).language == "fr"
        await store.ping()
    finally:
        await store.close()


async def test_database_errors_that_are_not_faults_pass_through(pg_backend: Backend) -> None:
    database = await PostgresDatabase.open(pg_backend.pg_url, max_size=1)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await database.fetch("SELECT * FROM no_such_table")
    finally:
        await database.close()
