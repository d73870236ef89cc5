"""Clocks: the server reads time only through a ``Clock`` so tests can drive it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns the current time as POSIX seconds, like :func:`time.time`."""


class ManualClock:
    """A clock that only moves when told to, for deterministic tests."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        """Creates the clock at ``start`` (default: a moment in May 2026)."""
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._now += seconds


def iso_ms(ts: float) -> str:
    """Formats POSIX seconds as the API does: ``2026-05-22T08:30:00.000Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
