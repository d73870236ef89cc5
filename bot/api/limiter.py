"""Client-side per-key sliding-window rate limiting.

The API limits each key over a sliding window (10 writes and 60 reads per 60 s). The
server counts a request when it *arrives*, which we cannot observe, so a slot here is held
from the moment a request is sent until ``window`` seconds after its answer came back: the
arrival lies between the two, so the server can never see more than ``limit`` requests in
any window, whatever the latency. No safety margin is needed on top.

Requests have a priority: background polling may only use ``limit - reserve`` slots, so the
person using the bot always has ``reserve`` slots for their own taps.

An interactive caller that must not queue without end (a Mini App request, whose page is
waiting) runs under :func:`waiting_at_most`: its wait for a slot is bounded, and beyond it
:class:`BusyError` says when to try again. Cancelling a waiting caller removes it at once.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum

from bot.api.errors import BusyError

_MAX_WAIT: ContextVar[float | None] = ContextVar("max_slot_wait", default=None)


@contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Bound the wait for a slot of every interactive request made inside (this task and
    the tasks it starts): beyond ``seconds``, :meth:`KeyRateLimiter.slot` raises
    :class:`BusyError` instead of queueing."""
    token = _MAX_WAIT.set(seconds)
    try:
        yield
    finally:
        _MAX_WAIT.reset(token)


class Priority(Enum):
    """Who a request is for: the person waiting on a tap, or the background poller."""

    INTERACTIVE = "interactive"
    BACKGROUND = "background"


class Bucket(Enum):
    """The API's two rate-limit buckets."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-key limits; ``*_reserve`` slots are kept free of background traffic."""

    reads: int = 60
    writes: int = 10
    window: float = 60.0
    read_reserve: int = 20
    write_reserve: int = 0

    def limit(self, bucket: Bucket) -> int:
        return self.reads if bucket is Bucket.READ else self.writes

    def reserve(self, bucket: Bucket) -> int:
        return self.read_reserve if bucket is Bucket.READ else self.write_reserve


class _Window:
    """Slots of one key's bucket: ``None`` while in flight, else the answer's time."""

    def __init__(self) -> None:
        self.slots: deque[list[float | None]] = deque()
        self.changed = asyncio.Event()

    def in_use(self, now: float, window: float) -> int:
        while self.slots and (done := self.slots[0][0]) is not None and done <= now - window:
            self.slots.popleft()
        return sum(1 for (done,) in self.slots if done is None or done > now - window)

    def next_expiry(self, window: float) -> float | None:
        finished = [done for (done,) in self.slots if done is not None]
        return min(finished) + window if finished else None


class KeyRateLimiter:
    """Grants request slots per (key id, bucket) under :class:`RateLimits`."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] | None = None) -> None:
        self.limits = limits
        self._clock = clock
        self._windows: dict[tuple[str, Bucket], _Window] = {}

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def used(self, key_id: str, bucket: Bucket) -> int:
        """Slots in use now for this key and bucket (for budgeting and tests)."""
        window = self._windows.get((key_id, bucket))
        return window.in_use(self._now(), self.limits.window) if window else 0

    @asynccontextmanager
    async def slot(
        self, key_id: str, bucket: Bucket, priority: Priority = Priority.INTERACTIVE
    ) -> AsyncIterator[None]:
        """Wait for a free slot, hold it while the request runs, then start its cool-down.

        Raises:
            BusyError: under :func:`waiting_at_most`, an interactive caller would wait longer.
        """
        window = self._windows.setdefault((key_id, bucket), _Window())
        cap = self.limits.limit(bucket)
        if priority is Priority.BACKGROUND:
            cap = max(1, cap - self.limits.reserve(bucket))
        max_wait = _MAX_WAIT.get() if priority is Priority.INTERACTIVE else None
        deadline = None if max_wait is None else self._now() + max_wait
        while True:
            now = self._now()
            if window.in_use(now, self.limits.window) < cap:
                break
            expiry = window.next_expiry(self.limits.window)
            # A slot in flight frees a window after its answer at the earliest.
            due = expiry if expiry is not None else now + self.limits.window
            if deadline is not None and due > deadline:
                raise BusyError(max(1, math.ceil(due - now)))  # rather than wait in vain
            window.changed.clear()
            timeout = None if expiry is None else max(expiry - now, 0.001)
            # Not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives just
            # as the event is set, and the cancelled caller would wait on for its slot.
            with suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await window.changed.wait()
        entry: list[float | None] = [None]
        window.slots.append(entry)
        try:
            yield
        finally:
            entry[0] = self._now()
            window.changed.set()
