"""Client-side per-key sliding-window rate limiting.

The API limits each key over a sliding window (10 writes and 60 reads per 60 s). The
server counts a request when it *arrives*, which we cannot observe, so a slot here is held
from the moment a request is sent until ``window`` seconds after its answer came back: the
arrival lies between the two, so the server can never see more than ``limit`` requests in
any window, whatever the latency. No safety margin is needed on top.

Requests have a priority, and each side keeps a share of the budget from the other:

* background polling may only use ``limit - reserve`` slots, so the person using the bot
  always has ``reserve`` slots for their own taps;
* while a key is being polled (a background request within the window), the person's
  requests leave ``background`` slots to the poller, so a user busy buying numbers still gets
  the codes of those bought a minute ago on time. A key not being polled gives its person
  the whole budget.

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
    """Per-key limits: ``*_reserve`` slots are kept free of background traffic, and while
    the key is polled ``background_*`` slots (at most ``limit - reserve``) of its
    interactive traffic.

    30 background reads cover a key's polling at the default 3 s interval (20 reads a
    minute with one order, about 27 with several; README, "Polling").
    """

    reads: int = 60
    writes: int = 10
    window: float = 60.0
    read_reserve: int = 20
    write_reserve: int = 0
    background_reads: int = 30
    background_writes: int = 0

    def limit(self, bucket: Bucket) -> int:
        return self.reads if bucket is Bucket.READ else self.writes

    def reserve(self, bucket: Bucket) -> int:
        return self.read_reserve if bucket is Bucket.READ else self.write_reserve

    def background(self, bucket: Bucket) -> int:
        share = self.background_reads if bucket is Bucket.READ else self.background_writes
        return min(share, self.limit(bucket) - self.reserve(bucket))

    def admits(self, bucket: Bucket, priority: Priority, used: int, background: int) -> bool:
        """Whether a request may start with ``used`` slots in use, ``background`` of them
        the poller's."""
        limit = self.limit(bucket)
        if used >= limit:
            return False
        if priority is Priority.BACKGROUND:
            # The poller's share holds once it polls the key (its first read takes the
            # ordinary way: a user who has just used the budget keeps their reserve).
            share = max(1, limit - self.reserve(bucket))
            return used < share or 0 < background < self.background(bucket)
        return background == 0 or used - background < limit - self.background(bucket)


class _Slot:
    """One request's slot: ``done`` is ``None`` while in flight, else the answer's time."""

    __slots__ = ("background", "done")

    def __init__(self, background: bool) -> None:
        self.background = background
        self.done: float | None = None


class _Window:
    """Slots of one key's bucket."""

    def __init__(self) -> None:
        self.slots: deque[_Slot] = deque()
        self.changed = asyncio.Event()

    def in_use(self, now: float, window: float) -> tuple[int, int]:
        """Slots in use, and how many of them are background ones."""
        slots = self.slots
        while slots and (done := slots[0].done) is not None and done <= now - window:
            slots.popleft()
        used = background = 0
        for slot in slots:
            if slot.done is None or slot.done > now - window:
                used += 1
                background += slot.background
        return used, background

    def next_expiry(self, window: float) -> float | None:
        finished = [slot.done for slot in self.slots if slot.done is not None]
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
        return window.in_use(self._now(), self.limits.window)[0] if window else 0

    @asynccontextmanager
    async def slot(
        self, key_id: str, bucket: Bucket, priority: Priority = Priority.INTERACTIVE
    ) -> AsyncIterator[None]:
        """Wait for a free slot, hold it while the request runs, then start its cool-down.

        Raises:
            BusyError: under :func:`waiting_at_most`, an interactive caller would wait longer.
        """
        window = self._windows.get((key_id, bucket))
        if window is None:  # not setdefault: that builds a window (and its Event) every call
            window = self._windows[key_id, bucket] = _Window()
        max_wait = _MAX_WAIT.get() if priority is Priority.INTERACTIVE else None
        deadline = None if max_wait is None else self._now() + max_wait
        while True:
            now = self._now()
            if self.limits.admits(bucket, priority, *window.in_use(now, self.limits.window)):
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
        slot = _Slot(priority is Priority.BACKGROUND)
        window.slots.append(slot)
        try:
            yield
        finally:
            slot.done = self._now()
            window.changed.set()
