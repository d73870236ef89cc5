"""The base of the fleet-wide periodic jobs that one replica at a time runs under a lease.

A :class:`LeasedJob` owns the loop every such job repeats: run :meth:`LeasedJob.work`,
survive a database outage (a warning) or any other failure (logged with its traceback),
report to :class:`~bot.health.Health` if it has a health key, then sleep ``interval``
(unless the work says there is more to do right away). :meth:`LeasedJob.stop` cancels the
loop and hands the lease back at once, so another replica takes over without waiting for
it to expire. Subclasses decide *when* to take the lease (:meth:`LeasedJob.hold_lease`):
some first look whether there is anything to do, so an idle fleet takes no lease at all.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.health import Health
from bot.store import Store, StoreUnavailableError

__all__ = ["LeasedJob"]


class LeasedJob(ABC):
    """A periodic job run by whichever replica holds the lease ``lease``.

    Args:
        store: The fleet's database (the lease lives there).
        name: What the job's log lines call it ("replacement": "replacement round failed").
        lease: The lease's name in the database.
        replica_id: This process's name as lease holder.
        lease_ttl: How long the lease outlives a replica that stopped renewing it.
        interval: Seconds between two rounds.
        health: Told after every round under ``health_key``; ``None`` for a job without one.
        health_key: The job's name in the health report.
        sleep: Awaitable sleep.
    """

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        lease: str,
        replica_id: str,
        lease_ttl: timedelta,
        interval: float,
        health: Health | None = None,
        health_key: str = "",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._name = name
        self._lease = lease
        self._replica = replica_id
        self._lease_ttl = lease_ttl
        self._interval = interval
        self._health = health
        self._health_key = health_key
        self._sleep = sleep
        self._loop: asyncio.Task[None] | None = None
        # The subclass's logger, so the lines keep naming the job's own module.
        self._log = logging.getLogger(type(self).__module__)

    @abstractmethod
    async def work(self) -> bool:
        """One round; True if there may be more to do right away (no sleep before the next)."""

    async def hold_lease(self) -> bool:
        """Take or renew the lease; True if this replica holds it."""
        return await self._store.acquire_lease(self._lease, self._replica, self._lease_ttl)

    def start(self) -> None:
        """Run rounds every ``interval`` until :meth:`stop`."""
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop, and hand the lease back at once so another replica takes over."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        if self._health is not None:
            self._health.forget(self._health_key)
        try:
            await self._store.release_lease(self._lease, self._replica)
        except StoreUnavailableError:
            self._log.warning("could not hand the %s lease back: database unavailable", self._name)

    async def _run(self) -> None:
        while True:
            busy = False
            try:
                busy = await self.work()
            except StoreUnavailableError as exc:
                self._log.warning("%s round skipped: database unavailable (%s)", self._name, exc)
            except Exception:
                self._log.exception("%s round failed", self._name)
            if self._health is not None:
                self._health.beat(self._health_key, 3 * self._interval + 30)
            if not busy:
                await self._sleep(self._interval)
