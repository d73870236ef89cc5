"""Helpers shared by the API client tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import pytest

from bot.api import ApiKey, JiemaClient, RateLimits, RetryPolicy
from bot.api.errors import ApiError, JiemaError
from bot.sandbox import ManualClock, RequestRecord, SandboxServer

API_PREFIX = "/api"

HANG_SECONDS = 2.0
"""How long the sandbox holds an answer hit by a ``timeout`` fault."""

SHORT_TIMEOUT = 0.4
"""A client timeout well under ``HANG_SECONDS``, well over a loopback round trip."""

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=8.0)

MakeServer = Callable[..., Awaitable[SandboxServer]]


class MakeKey(Protocol):
    def __call__(self, server: SandboxServer, **account: Any) -> ApiKey: ...


class MakeClient(Protocol):
    def __call__(
        self,
        server: SandboxServer,
        *,
        limits: RateLimits | None = None,
        retry: RetryPolicy = FAST_RETRY,
        timeout: float = 5.0,
        sleep: SleepSpy | None = None,
    ) -> JiemaClient: ...


class SleepSpy:
    """Stands in for ``asyncio.sleep`` in the client: records each delay, never waits.

    With a ``clock`` (the sandbox's :class:`ManualClock`) it moves that clock on by the
    delay, so the server sees the time pass that the client thinks it waited.
    """

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
        await asyncio.sleep(0)


def requests_to(server: SandboxServer, method: str, path: str) -> list[RequestRecord]:
    """The sandbox's records of ``method`` requests to the API path ``path`` exactly."""
    full = API_PREFIX + path
    return [r for r in server.request_log if r.method == method and r.path == full]


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for ``condition`` to hold, checking often; fail after ``within`` seconds.

    The conditions are about state no event announces (the sandbox's request log).
    """
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def leaking_loggers(records: Iterable[logging.LogRecord], secrets: set[str]) -> list[str]:
    """Names of the loggers whose records show any of ``secrets`` (message, args, error)."""
    leaking = []
    for record in records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(texts_of(record.exc_info[1]))
        if any(secret in text for secret in secrets):
            leaking.append(record.name)
    return leaking


def texts_of(exc: BaseException) -> Iterable[str]:
    """Every text an exception (and its causes and contexts) shows or carries."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from (repr(arg) for arg in current.args)
        if isinstance(current, ApiError):
            yield current.code
            yield current.message
        current = current.__cause__ or current.__context__


class ErrorChecker:
    """``pytest.raises`` for the client's errors that also checks no key leaks into them."""

    def __init__(self, secrets: set[str]) -> None:
        self._secrets = secrets

    def __call__(
        self,
        cls: type[JiemaError],
        *,
        code: str | None = None,
        status: int | None = None,
    ) -> _Raises:
        return _Raises(self, cls, code, status)

    def assert_clean(self, exc: BaseException) -> None:
        leaks = [text for text in texts_of(exc) if any(s in text for s in self._secrets)]
        assert not leaks, f"an API key leaked into {type(exc).__name__}"


class _Raises:
    def __init__(
        self, checker: ErrorChecker, cls: type[JiemaError], code: str | None, status: int | None
    ) -> None:
        self._checker = checker
        self._cls = cls
        self._code = code
        self._status = status
        self._raises: Any = None
        self.info: pytest.ExceptionInfo[JiemaError] | None = None

    def __enter__(self) -> _Raises:
        self._raises = pytest.raises(self._cls)
        self.info = self._raises.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        if not self._raises.__exit__(*exc_info):
            return False
        assert self.info is not None
        error = self.info.value
        self._checker.assert_clean(error)
        if self._code is not None or self._status is not None:
            assert isinstance(error, ApiError)
            if self._code is not None:
                assert error.code == self._code
            if self._status is not None:
                assert error.status == self._status
        return True

    @property
    def value(self) -> JiemaError:
        assert self.info is not None
        return self.info.value
