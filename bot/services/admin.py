"""The operator's statistics (``/stats``), read from the database so they cover the fleet.

Counts of users, orders and codes come from their tables. Error counts live in each
process's Prometheus counters (:mod:`bot.metrics`); :class:`FleetCounters` adds what changed
since its last flush into hourly buckets in the database every ``FLUSH_EVERY`` seconds, so
``/stats`` can sum the whole fleet's last 24 h. A replica that is killed loses at most its
last ``FLUSH_EVERY`` seconds of counts; one that stops politely flushes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from prometheus_client import Counter

from bot.metrics import Metrics
from bot.store import POLL_PREFIX, Store, StoreUnavailableError
from bot.store.console import UserCounts

__all__ = [
    "FLUSH_EVERY",
    "WINDOW",
    "AdminService",
    "FleetCounters",
    "ReplicaLeases",
    "Stats",
    "percentile",
]

log = logging.getLogger(__name__)

WINDOW: Final = timedelta(hours=24)
"""What "recent" means in /stats."""
FLUSH_EVERY: Final = 30.0
"""Seconds between two flushes of a process's counters into the database."""

JIEMA_ERRORS: Final = "jiema_errors"
JIEMA_RATE_LIMITED: Final = "jiema_429"
TELEGRAM_ERRORS: Final = "telegram_errors"

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ReplicaLeases:
    """One live replica and what it holds: keys it polls, users it is serving, jobs."""

    replica_id: str
    polls: int
    serving: int
    jobs: tuple[str, ...]
    this_one: bool


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything ``/stats`` shows; ``latency_*`` are None without codes in the window."""

    at: datetime
    users: UserCounts
    active_orders: int
    orders_bought: int
    codes_delivered: int
    latency_median: float | None
    latency_p95: float | None
    jiema_errors: int
    jiema_rate_limited: int
    telegram_errors: int
    pending_deliveries: int
    replicas: tuple[ReplicaLeases, ...]


def percentile(values: Collection[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


class AdminService:
    """Who the operators are, and the figures they see.

    Args:
        store: The fleet's database.
        admin_ids: ``ADMIN_IDS``.
        replica_id: This process's id (marked in the replica list).
        counters: This process's counters, flushed before the figures are read, so they
            include what this replica counted up to now.
        lease_ttl: A replica that has not beaten within this is not listed.
        clock: The current time (tests move it).
    """

    def __init__(
        self,
        store: Store,
        admin_ids: Collection[int],
        replica_id: str,
        counters: FleetCounters,
        *,
        lease_ttl: timedelta,
        clock: Clock = _system_clock,
    ) -> None:
        self._store = store
        self._counters = counters
        self._admins = frozenset(admin_ids)
        self._replica = replica_id
        self._lease_ttl = lease_ttl
        self._clock = clock

    @property
    def admin_ids(self) -> frozenset[int]:
        return self._admins

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._admins

    async def stats(self) -> Stats:
        """The fleet's figures now (a handful of aggregate reads)."""
        await self._counters.flush()
        now = self._clock()
        since = now - WINDOW
        store = self._store
        latencies = await store.code_latencies(since)
        counters = await store.sum_counters(since)
        return Stats(
            at=now,
            users=await store.user_counts(since),
            active_orders=await store.count_active_orders(),
            orders_bought=await store.count_orders_since(since),
            codes_delivered=len(latencies),
            latency_median=percentile(latencies, 0.5),
            latency_p95=percentile(latencies, 0.95),
            jiema_errors=counters.get(JIEMA_ERRORS, 0),
            jiema_rate_limited=counters.get(JIEMA_RATE_LIMITED, 0),
            telegram_errors=counters.get(TELEGRAM_ERRORS, 0),
            pending_deliveries=await store.count_pending_deliveries(),
            replicas=await self._replicas(),
        )

    async def _replicas(self) -> tuple[ReplicaLeases, ...]:
        leases = await self._store.live_leases()
        live = set(await self._store.live_replicas(self._lease_ttl)) | set(leases.values())
        out = []
        for replica in sorted(live):
            names = sorted(name for name, holder in leases.items() if holder == replica)
            out.append(
                ReplicaLeases(
                    replica_id=replica,
                    polls=sum(name.startswith(POLL_PREFIX) for name in names),
                    serving=sum(name.startswith("user:") for name in names),
                    jobs=tuple(name for name in names if name.startswith("job:")),
                    this_one=replica == self._replica,
                )
            )
        return tuple(out)


def _sum(counter: Counter, keep: Callable[[Mapping[str, str]], bool]) -> int:
    """The total of a (labelled) counter's series that ``keep`` accepts."""
    total = 0.0
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and keep(sample.labels):
                total += sample.value
    return int(total)


def read_counters(metrics: Metrics) -> dict[str, int]:
    """This process's error totals since it started, by fleet counter name.

    jiema errors are answers other than 2xx and 429, and requests with no answer (timeouts,
    transport failures); 429s are counted on their own; Telegram errors are failed Bot API
    calls.
    """
    return {
        JIEMA_ERRORS: _sum(
            metrics.jiema_requests,
            lambda labels: not labels["status"].startswith("2") and labels["status"] != "429",
        ),
        JIEMA_RATE_LIMITED: _sum(metrics.jiema_rate_limited, lambda _: True),
        TELEGRAM_ERRORS: _sum(metrics.telegram_calls, lambda labels: labels["error"] != ""),
    }


class FleetCounters:
    """Adds this process's new error counts into the database's hourly buckets.

    Args:
        every: Seconds between flushes.
        clock: Wall time, for the bucket.
        sleep: Awaitable sleep between flushes.
    """

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        every: float = FLUSH_EVERY,
        clock: Clock = _system_clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._every = every
        self._clock = clock
        self._sleep = sleep
        self._flushed: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop, flushing what is left (best effort: the database may be gone)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(StoreUnavailableError):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await self._sleep(self._every)
            try:
                await self.flush()
            except StoreUnavailableError as exc:
                log.warning("counters not flushed: database unavailable (%s)", exc)

    async def flush(self) -> dict[str, int]:
        """Add the counts since the last flush; returns them. Nothing is lost on failure:
        the next flush adds them."""
        async with self._lock:  # /stats flushes too: never add the same counts twice
            totals = read_counters(self._metrics)
            delta = {name: value - self._flushed.get(name, 0) for name, value in totals.items()}
            if any(delta.values()):
                await self._store.add_counters(self._clock(), delta)
            self._flushed = totals
            return delta
