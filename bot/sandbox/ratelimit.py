"""Per-key sliding-window rate limits, one bucket for reads and one for writes."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from enum import StrEnum

from bot.sandbox.clock import Clock


class Bucket(StrEnum):
    """Which limit a request counts against."""

    READ = "read"
    WRITE = "write"


class SlidingWindowLimiter:
    """Allows at most ``limit`` requests per key and bucket in any ``window`` seconds.

    A refused request is *not* counted. Counting it would let a client that
    retries too early push its own window forward forever; not counting it
    keeps ``Retry-After`` honest: after that many seconds the oldest counted
    request has left the window, so the retry succeeds unless the client sent
    something else meanwhile. (The spec does not say what the real service
    does; the bot must not rely on either behaviour.)
    """

    def __init__(self, window: float, limits: dict[Bucket, int], clock: Clock) -> None:
        self.window = window
        self.limits = dict(limits)
        self._clock = clock
        self._accepted: defaultdict[tuple[str, Bucket], deque[float]] = defaultdict(deque)

    def acquire(self, key: str, bucket: Bucket) -> int | None:
        """Counts a request if allowed; otherwise returns the whole seconds to wait (≥ 1)."""
        now = self._clock()
        accepted = self._accepted[key, bucket]
        while accepted and accepted[0] <= now - self.window:
            accepted.popleft()
        if len(accepted) < self.limits[bucket]:
            accepted.append(now)
            return None
        # The limit may have been lowered at run time below the number of
        # entries: wait until enough of them have left to fit it again.
        frees_at = accepted[len(accepted) - self.limits[bucket]] + self.window
        return max(1, math.ceil(frees_at - now))
