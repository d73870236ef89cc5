"""Fixtures: sandboxes on loopback ports, keys, clients, and a watch on the keys' secrecy.

Every test here runs with logging captured at DEBUG; at teardown no captured record may
contain any API key the test created (see ``secrets``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.api import ApiKey, JiemaClient, RateLimits, RetryPolicy
from bot.sandbox import SandboxConfig, SandboxServer
from bot.sandbox.clock import Clock
from tests.api.helpers import (
    FAST_RETRY,
    HANG_SECONDS,
    ErrorChecker,
    MakeClient,
    MakeKey,
    MakeServer,
    SleepSpy,
    leaking_loggers,
)


@pytest.fixture
def secrets() -> set[str]:
    """Every API key handed out in this test: none may appear in a log or an error."""
    return set()


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture, secrets: set[str]) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    leaking = leaking_loggers(caplog.records, secrets)
    assert not leaking, f"an API key was logged by {sorted(set(leaking))}"


@pytest.fixture
def raises(secrets: set[str]) -> ErrorChecker:
    """``raises(Cls, code=..., status=...)``: ``pytest.raises`` that also checks secrecy."""
    return ErrorChecker(secrets)


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """Starts sandboxes (real clock unless given one); SMS arrive only when delivered."""
    started: list[SandboxServer] = []

    async def make(clock: Clock = time.time, **overrides: Any) -> SandboxServer:
        settings: dict[str, Any] = {"sms_delay": None, "hang_seconds": HANG_SECONDS} | overrides
        server = SandboxServer(SandboxConfig(**settings), clock=clock)
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
def make_key(secrets: set[str]) -> MakeKey:
    """Creates an account on a sandbox and returns its key, registered as a secret."""

    def make(server: SandboxServer, **account: Any) -> ApiKey:
        account.setdefault("balance_cents", 10_000)
        key = ApiKey(server.create_account(**account))
        secrets.add(key.secret)
        return key

    return make


@pytest.fixture
def key(server: SandboxServer, make_key: MakeKey) -> ApiKey:
    return make_key(server)


@pytest.fixture
def sleeps() -> SleepSpy:
    """The sleep of clients made by ``make_client`` unless told otherwise."""
    return SleepSpy()


@pytest.fixture
async def make_client(sleeps: SleepSpy) -> AsyncIterator[MakeClient]:
    """Makes clients of a sandbox; all are closed at teardown."""
    clients: list[JiemaClient] = []

    def make(
        server: SandboxServer,
        *,
        limits: RateLimits | None = None,
        retry: RetryPolicy = FAST_RETRY,
        timeout: float = 5.0,
        sleep: SleepSpy | None = None,
    ) -> JiemaClient:
        client = JiemaClient(
            server.base_url, limits=limits, retry=retry, timeout=timeout, sleep=sleep or sleeps
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(server: SandboxServer, make_client: MakeClient) -> JiemaClient:
    return make_client(server)
