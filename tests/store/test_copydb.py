"""copy-db: a SQLite deployment copied into an empty PostgreSQL database, row for row."""

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot import copydb
from bot.copydb import CopyError, copy_database
from bot.store import DeliveryState, PurchaseState, Store, SwapState
from bot.store.console import RecipientState
from bot.store.migrations import MIGRATIONS
from bot.store.postgres import PostgresDatabase
from bot.store.store import SQLITE_FILE

from .conftest import OTHER_USER, USER, Backend, FakeClock, make_order

TABLES = (
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
)
BIG_ID = 7_000_000_000  # Telegram ids beyond 32 bits


async def fill(store: Store, clock: FakeClock) -> None:
    """Something in every table and every column, through the Store API."""
    await store.ensure_user(USER, "en")
    await store.ensure_user(OTHER_USER, None)
    await store.ensure_user(BIG_ID, "zh_Hans")
    await store.set_key(USER, b"\x00\xffcipher\x01", "0123456789abcdef", "Alice")
    await store.set_key(OTHER_USER, b"other", "fedcba9876543210", None)
    await store.set_key_revoked(OTHER_USER)
    await store.set_chat_active(BIG_ID, False)
    await store.set_dialog(USER, {"mode": "countries", "query": "малай", "page": 2})
    for n in range(3):
        await store.save_order(make_order(f"ck{n}", status=("WAITING", "RECEIVED", "FAILED")[n]))
    await store.save_order(make_order("big", user_id=BIG_ID, expires_at=None))
    await store.set_card_message("ck0", 555, "hash0")
    await store.set_sms_seen("ck1", 2)
    await store.mark_final_notified("ck2")
    await store.count_delivery("ck1", timedelta(seconds=40))
    received = datetime(2026, 5, 22, 8, 12, tzinfo=UTC)
    await store.claim_delivery("ck1", 0, "code 1", received)
    await store.claim_delivery("ck1", 1, "code 2", None)
    await store.mark_delivered("ck1", 0, 9_000_000_001)
    tokens = []
    for _ in range(4):
        tokens.append((await store.offer_purchase(USER, "tg", "Telegram", "7", "my", 32)).token)
    await store.claim_purchase(tokens[1], USER)
    await store.claim_purchase(tokens[2], USER)
    await store.finish_purchase(tokens[2], PurchaseState.DONE, "ck0")
    await store.claim_purchase(tokens[3], USER)
    await store.finish_purchase(
        tokens[3], PurchaseState.UNKNOWN, reconcile_after=clock.now + timedelta(minutes=3)
    )
    for service in ("tg", "wa"):
        await store.touch_service(USER, service)
    await store.acquire_lease("poll:1001", "replica-a", timedelta(seconds=30))
    await store.acquire_lease("reconcile", "replica-b", timedelta(seconds=30))
    await store.heartbeat("replica-a")
    await store.claim_update(BIG_ID, "replica-a", timedelta(seconds=30))
    await store.claim_update(1, "replica-b", timedelta(seconds=30))
    await store.finish_update(1)
    await store.set_announcements_muted(OTHER_USER, True)
    broadcast = await store.draft_broadcast(USER, "<b>Maintenance</b> tonight")
    await store.start_broadcast(broadcast.id, USER, 9_000_000_002)
    await store.claim_recipient(broadcast.id, "replica-a")
    await store.settle_recipient(broadcast.id, USER, "replica-a", RecipientState.SENT, 42)
    await store.add_counters(clock.now, {"jiema_errors": 2})
    await store.add_favourite(USER, "tg", "Telegram", "7", "my", limit=10)
    day = timedelta(hours=24)
    fired, _ = await store.add_alert(USER, "tg", "Telegram", "7", "my", lifetime=day, limit=10)
    assert fired is not None
    await store.claim_alert(fired.id, 41, refire_after=timedelta(minutes=2))
    await store.finish_alert(fired.id, sent=True)
    await store.add_alert(BIG_ID, "wa", "WhatsApp", "16", "pl", lifetime=day, limit=10)
    await store.claim_topup_hint(USER, day)
    await store.record_secret_check("check-value-of-the-secret")
    await store.set_auto_replace_default(USER, True)
    order = await store.get_order("ck0")
    assert order is not None
    await store.claim_swap(order, "replica-a", clock.now + timedelta(minutes=2))
    await store.advance_swap("ck0", SwapState.CLAIMED, SwapState.CANCELLED)
    await store.mark_replacement("big", replaced_from="+1555", replaces_left=2, confirmed_cents=9)
    await store.mark_replaced("ck0", "+1666", 2, card_handed_over=True)


def sqlite_rows(path: Path, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
    return sorted((dict(row) for row in rows), key=repr)


async def postgres_rows(url: str, table: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(f'SELECT * FROM "{table}"')  # noqa: S608
    finally:
        await conn.close()
    return sorted((dict(row) for row in rows), key=repr)


@pytest.fixture
async def source(db_path: Path, clock: FakeClock) -> Path:
    store = await Store.open(db_path, clock=clock)
    await fill(store, clock)
    await store.close()
    return db_path


async def test_copy_moves_every_row(source: Path, pg_backend: Backend, clock: FakeClock) -> None:
    report = await copy_database(source, pg_backend.pg_url)
    assert report.schema_version == len(MIGRATIONS)
    assert list(report.rows) == [  # parents before children
        "broadcasts",
        "delivery_rates",
        "fleet_counters",
        "leases",
        "replicas",
        "secret_check",
        "users",
        "webhook_updates",
        "alerts",
        "broadcast_recipients",
        "favourites",
        "orders",
        "purchases",
        "recent_services",
        "sms_deliveries",
        "swaps",
    ]
    assert set(report.rows) == set(TABLES)
    for table in TABLES:
        expected = sqlite_rows(source, table)
        assert expected, f"fill() left {table} empty"
        assert await postgres_rows(pg_backend.pg_url, table) == expected, table
        assert report.rows[table] == len(expected)
    # And the PostgreSQL store reads back what the SQLite one had.
    old = await Store.open(source, clock=clock)
    new = await pg_backend.open()
    try:
        for user_id in (USER, OTHER_USER, BIG_ID):
            assert await new.get_user(user_id) == await old.get_user(user_id)
        assert await new.active_orders() == await old.active_orders()
        assert await new.deliveries_for("ck1") == await old.deliveries_for("ck1")
        assert [d.state for d in await new.deliveries_for("ck1")] == [
            DeliveryState.SENT,
            DeliveryState.PENDING,
        ]
        assert await new.purchases_to_reconcile() == await old.purchases_to_reconcile()
        assert await new.live_leases() == await old.live_leases()
        assert await new.live_replicas(timedelta(minutes=1)) == ["replica-a"]
        assert await new.claim_update(1, "x", timedelta(seconds=30)) == "done"
        assert await new.recent_services(USER) == ["wa", "tg"]
    finally:
        await old.close()
        await new.close()


async def test_non_empty_target_is_refused(source: Path, pg_backend: Backend) -> None:
    await copy_database(source, pg_backend.pg_url)
    with pytest.raises(CopyError, match="not empty"):
        await copy_database(source, pg_backend.pg_url)
    assert len(await postgres_rows(pg_backend.pg_url, "users")) == 3  # not doubled


async def test_one_row_makes_the_target_non_empty(source: Path, pg_backend: Backend) -> None:
    store = await pg_backend.open()
    await store.heartbeat("a-replica-already-running")
    await store.close()
    with pytest.raises(CopyError, match="table replicas has 1 rows"):
        await copy_database(source, pg_backend.pg_url)
    assert await postgres_rows(pg_backend.pg_url, "users") == []


async def test_failed_copy_leaves_the_target_empty(source: Path, pg_backend: Backend) -> None:
    # A row PostgreSQL refuses (a NUL character in TEXT) half-way through the copy.
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE recent_services SET service = 'x' || char(0) WHERE service = 'wa'")
    with pytest.raises(CopyError, match="refused a row of table recent_services"):
        await copy_database(source, pg_backend.pg_url)
    for table in TABLES:
        assert await postgres_rows(pg_backend.pg_url, table) == [], table


async def test_missing_source_is_refused(tmp_path: Path, pg_backend: Backend) -> None:
    with pytest.raises(CopyError, match="no SQLite database"):
        await copy_database(tmp_path / "nothing" / SQLITE_FILE, pg_backend.pg_url)
    assert not (tmp_path / "nothing").exists()


async def test_target_must_be_postgres(source: Path, tmp_path: Path) -> None:
    with pytest.raises(CopyError, match="postgresql://"):
        await copy_database(source, f"sqlite:///{tmp_path / 'x.sqlite3'}")


async def test_main_prints_counts_and_hides_the_password(
    source: Path, pg_backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await asyncio.to_thread(copydb.main, pg_backend.pg_url, source.parent)
    out = capsys.readouterr()
    assert status == 0, out.err
    assert f"schema version {len(MIGRATIONS)}" in out.out
    assert "users" in out.out
    assert "total" in out.out
    assert "postgres:postgres@" not in out.out
    status = await asyncio.to_thread(copydb.main, pg_backend.pg_url, source.parent)
    refused = capsys.readouterr()
    assert status == 1
    assert "not empty" in refused.err


async def test_copy_into_a_database_other_stores_use(source: Path, pg_backend: Backend) -> None:
    # The target opened (and migrated) by a replica before the copy is still empty: allowed.
    database = await PostgresDatabase.open(pg_backend.pg_url, max_size=1)
    await (await Store.over(database)).close()
    report = await copy_database(source, pg_backend.pg_url)
    assert report.rows["users"] == 3
