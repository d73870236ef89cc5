"""tests/pg.py: an unusable PostgreSQL skips its tests, except in CI, where they fail."""

import asyncpg
import pytest

from tests.pg import database_url, fresh_database, server_url

UNREACHABLE = "postgresql://postgres:s3cret@127.0.0.1:9/postgres"


async def test_unreachable_server_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", UNREACHABLE)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not usable") as caught:
        async with fresh_database():
            pytest.fail("no database should have been made")
    assert "s3cret" not in str(caught.value)


async def test_unreachable_server_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not usable"):
        async with fresh_database():
            pytest.fail("no database should have been made")


async def test_fresh_database_is_empty_and_dropped_after() -> None:
    async with fresh_database() as url:
        conn = await asyncpg.connect(url)
        try:
            tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            assert await conn.fetchval(tables) == 0
        finally:
            await conn.close()
        name = url.rsplit("/", 1)[-1]
        assert name.startswith("jiema_test_")
    admin = await asyncpg.connect(server_url())
    try:
        exists = "SELECT count(*) FROM pg_database WHERE datname = $1"
        assert await admin.fetchval(exists, name) == 0
    finally:
        await admin.close()


def test_database_url_replaces_only_the_database() -> None:
    assert (
        database_url("postgresql://u:p@h:5432/postgres?sslmode=disable", "x")
        == "postgresql://u:p@h:5432/x?sslmode=disable"
    )
