"""What ``/healthz`` reports: the database answers, Telegram answered, the loops are alive.

Components report in two ways: a *problem* that stays until cleared (Telegram not reached
yet, the database failing), and a *heartbeat* that must keep coming (the poller's rounds,
the update loop): a loop whose last beat is older than its allowance counts as dead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

DATABASE: Final = "database"
"""The component name of the database (probed, and reported by writers that failed on it)."""


@dataclass(frozen=True, slots=True)
class Report:
    """The verdict: healthy, and a reason per failing check."""

    healthy: bool
    problems: dict[str, str]


class Health:
    """Collects the components' state; :meth:`check` gives the verdict.

    Args:
        clock: Monotonic clock (injectable for tests).
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, probe_timeout: float = 2.0
    ) -> None:
        self._clock = clock
        self._probe_timeout = probe_timeout
        self._problems: dict[str, str] = {}
        self._beats: dict[str, tuple[float, float]] = {}
        self._probes: dict[str, Callable[[], Awaitable[str | None]]] = {}

    def problem(self, component: str, reason: str | None) -> None:
        """Record (or, with None, clear) a lasting problem of ``component``."""
        if reason is None:
            self._problems.pop(component, None)
        else:
            self._problems[component] = reason

    def beat(self, loop: str, allowance: float) -> None:
        """``loop`` is alive now, and must beat again within ``allowance`` seconds."""
        self._beats[loop] = (self._clock(), allowance)

    def forget(self, loop: str) -> None:
        """``loop`` stopped on purpose (shutdown): no longer expected to beat."""
        self._beats.pop(loop, None)

    def probe(self, component: str, check: Callable[[], Awaitable[str | None]]) -> None:
        """Run ``check`` on every health check; it returns a reason when unhealthy."""
        self._probes[component] = check

    async def check(self) -> Report:
        problems = dict(self._problems)
        now = self._clock()
        for loop, (last, allowance) in self._beats.items():
            if now - last > allowance:
                problems[loop] = f"no sign of life for {now - last:.0f} s"
        for component, check in list(self._probes.items()):  # probes may come meanwhile
            # A health check answers quickly even when what it probes hangs (a database
            # waiting on a lock): a load balancer's own timeout would read "down" anyway.
            try:
                reason = await asyncio.wait_for(check(), self._probe_timeout)
            except TimeoutError:
                reason = f"no answer within {self._probe_timeout:g} s"
            if reason is not None:
                problems[component] = reason
        return Report(not problems, problems)
