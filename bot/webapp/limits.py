"""The Mini App's per-user request limit: a token bucket per Telegram user id.

Each user's bucket holds up to ``burst`` requests and refills at ``rate`` per second; a
request finding it empty is refused (429) with the seconds until a token is back. The
buckets live in a bounded map: beyond ``max_users`` the least recently seen user's bucket
is dropped, which is harmless for an idle user (theirs was refilling to full anyway) and
keeps a crowd of accounts from growing the process's memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class UserRateLimiter:
    """Token buckets per user id.

    Args:
        rate: Requests per second a user may keep up.
        burst: Requests a user may make at once (the bucket's size).
        max_users: Buckets kept at most (least recently used dropped first).
        clock: Monotonic seconds, injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_users < 1:
            raise ValueError("rate, burst and max_users must be positive")
        self._rate = rate
        self._burst = float(burst)
        self._max_users = max_users
        self._clock = clock
        self._buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        """Users whose bucket is kept."""
        return len(self._buckets)

    def take(self, user_id: int) -> int:
        """Spend one of ``user_id``'s tokens: 0 when granted, else whole seconds to wait."""
        now = self._clock()
        tokens, then = self._buckets.pop(user_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        wait = 0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = max(1, math.ceil((1 - tokens) / self._rate))
        self._buckets[user_id] = (tokens, now)
        while len(self._buckets) > self._max_users:
            self._buckets.popitem(last=False)
        return wait
