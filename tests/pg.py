"""PostgreSQL for tests: a fresh, throw-away database per use.

The server comes from ``TEST_DATABASE_URL`` (default: the local server, user ``postgres``).
When it cannot be reached the test is skipped with the reason, except with ``CI=true``:
there a PostgreSQL test that cannot run is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

__all__ = ["DEFAULT_URL", "database_url", "fresh_database", "server_url", "unreachable"]

DEFAULT_URL: Final = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
_CONNECT_TIMEOUT: Final = 5.0


def server_url() -> str:
    """The server to create test databases on (``TEST_DATABASE_URL``)."""
    return os.environ.get("TEST_DATABASE_URL", "").strip() or DEFAULT_URL


def database_url(server: str, name: str) -> str:
    """``server`` with its database part replaced by ``name``."""
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{name}"))


def unreachable(reason: str) -> None:
    """Skip the test (fail it with ``CI=true``): PostgreSQL cannot be used here."""
    message = f"PostgreSQL at TEST_DATABASE_URL is not usable: {reason}"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _admin_connection(server: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(server, timeout=_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # The URL may hold a password: name only the error.
        unreachable(f"{type(exc).__name__}: {exc}")
        raise  # not reached: unreachable() raises


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """``async with fresh_database() as url``: a new empty database, dropped afterwards.

    Its name is ``jiema_test_<random>``; it is dropped even if connections to it are still
    open (``WITH (FORCE)``), so a failing test leaves nothing behind.
    """
    server = server_url()
    name = f"jiema_test_{secrets.token_hex(6)}"
    admin = await _admin_connection(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield database_url(server, name)
    finally:
        admin = await asyncpg.connect(server, timeout=_CONNECT_TIMEOUT)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
