"""Fixtures: a sandbox on a loopback port with a manual clock, and httpx clients."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.sandbox import ManualClock, SandboxConfig, SandboxServer
from tests.sandbox.helpers import MakeServer, RecordingSleep, client_for


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sleep() -> RecordingSleep:
    """How the sandboxes wait (latency, held answers): really, and recorded."""
    return RecordingSleep()


@pytest.fixture
async def make_server(clock: ManualClock, sleep: RecordingSleep) -> AsyncIterator[MakeServer]:
    """Starts sandboxes with config overrides; all stop at teardown."""
    started: list[SandboxServer] = []

    async def make(**overrides: Any) -> SandboxServer:
        settings: dict[str, Any] = {"hang_seconds": 0.3} | overrides
        server = SandboxServer(SandboxConfig(**settings), clock=clock, sleep=sleep)
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


@pytest.fixture
async def server(make_server: MakeServer) -> SandboxServer:
    return await make_server()


@pytest.fixture
def key(server: SandboxServer) -> str:
    return server.create_account(balance_cents=2500)


@pytest.fixture
async def api(server: SandboxServer, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API authenticated with ``key``."""
    async with client_for(server, key) as client:
        yield client


@pytest.fixture
async def control(server: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the ``/_sandbox`` controls."""
    async with httpx.AsyncClient(base_url=server.control_url, timeout=5) as client:
        yield client
