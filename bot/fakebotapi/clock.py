"""A clock that only moves when told to, for flood-control and expiry tests."""

from __future__ import annotations


class ManualClock:
    """Callable like ``time.monotonic``; :meth:`advance` moves it forward.

    Args:
        start: The initial reading in seconds.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds
