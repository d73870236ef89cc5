"""Store tests run on both backends: every test taking ``store`` or ``backend`` runs twice."""

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import asyncpg
import pytest

from bot.store import Store, StoredOrder, User
from bot.store.db import Dialect
from bot.store.postgres import PostgresDatabase
from tests.pg import fresh_database

USER = 1001
OTHER_USER = 2002
EXPIRES = datetime(2026, 5, 22, 8, 30, tzinfo=UTC)

INTEGRITY_ERRORS: Final = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)
"""A broken constraint (foreign key, unique) as each backend reports it."""


@dataclass
class FakeClock:
    """The stores' clock: starts at the real time and moves only when told to."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Backend:
    """One database on one backend; :meth:`open` gives another Store on it (a "replica")."""

    dialect: Dialect
    path: Path  # the SQLite file
    url: str | None  # the PostgreSQL database
    clock: FakeClock

    @property
    def pg_url(self) -> str:
        assert self.url is not None, "a PostgreSQL test on SQLite"
        return self.url

    async def open(self, *, max_size: int = 4) -> Store:
        if self.url is None:
            return await Store.open(self.path, clock=self.clock)
        database = await PostgresDatabase.open(self.url, max_size=max_size)
        return await Store.over(database, clock=self.clock)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(
    request: pytest.FixtureRequest, db_path: Path, clock: FakeClock
) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", db_path, None, clock)
        return
    async with fresh_database() as url:
        yield Backend("postgresql", db_path, url, clock)


@pytest.fixture
async def pg_backend(db_path: Path, clock: FakeClock) -> AsyncIterator[Backend]:
    """For the tests of PostgreSQL only (pools, several writers, server-side faults)."""
    async with fresh_database() as url:
        yield Backend("postgresql", db_path, url, clock)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = await backend.open()
    await opened.ensure_user(USER, "en")
    await opened.ensure_user(OTHER_USER, None)
    yield opened
    await opened.close()


def make_order(order_id: str = "ck1", user_id: int = USER, **changes: object) -> StoredOrder:
    created = datetime(2026, 5, 22, 8, 10, tzinfo=UTC)
    fields: dict[str, object] = {
        "id": order_id,
        "user_id": user_id,
        "key_fingerprint": "0123456789abcdef",
        "service": "tg",
        "service_name": "Telegram",
        "country_id": "7",
        "country_slug": "my",
        "phone": "+60123456789",
        "status": "WAITING",
        "expires_at": EXPIRES,
        "charged_cents": 32,
        "created_at": created,
        "updated_at": created,
    }
    fields.update(changes)
    return StoredOrder(**fields)  # type: ignore[arg-type]


async def user_of(store: Store, telegram_id: int) -> User:
    user = await store.get_user(telegram_id)
    assert user is not None
    return user


async def order_of(store: Store, order_id: str) -> StoredOrder:
    order = await store.get_order(order_id)
    assert order is not None
    return order
