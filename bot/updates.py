"""Concurrent update processing that keeps each user's updates in order, fleet-wide.

PTB's default processes updates one at a time, so one user's slow API call would hold up
everyone. Fully concurrent processing would let one user's double tap race with itself.
This processor runs different users' updates concurrently and one user's sequentially: in
this process with a lock per user, and across replicas with a lease per user in the
database (``user:<id>``), so a double tap split across two replicas is still handled one
press after the other, and both see the first one's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import logs
from bot.metrics import Metrics
from bot.store import Store, StoreUnavailableError

log = logging.getLogger(__name__)

# A lease outlives a dead holder by at most this much; a live one renews it.
USER_LEASE_TTL = timedelta(seconds=20)
_RENEW_EVERY = USER_LEASE_TTL.total_seconds() / 3
_FIRST_WAIT, _MAX_WAIT = 0.01, 0.2


def update_kind(update: object) -> str:
    """A short name for metrics: ``command``, ``message``, ``callback_query``, …"""
    if not isinstance(update, Update):
        return "other"
    if update.message is not None:
        text = update.message.text or ""
        return "command" if text.startswith("/") else "message"
    for kind in ("callback_query", "edited_message", "my_chat_member"):
        if getattr(update, kind) is not None:
            return kind
    return "other"


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Serialize updates per user (locally and through the database), run users in parallel.

    Args:
        store: Where the per-user leases live.
        holder: This replica's id.
        metrics: Update counts and handling time by kind.
        sleep: Awaitable sleep while another replica holds a user, and between renewals of
            a lease held (injectable).
    """

    def __init__(
        self,
        store: Store,
        holder: str,
        metrics: Metrics,
        *,
        max_concurrent_updates: int = 256,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._store = store
        self._holder = holder
        self._metrics = metrics
        self._sleep = sleep
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._held: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        kind = update_kind(update)
        started = time.perf_counter()
        key = _key(update)
        logs.bind_user(key)
        if key is None:
            await coroutine
        else:
            lock = self._locks.setdefault(key, asyncio.Lock())
            self._waiting[key] = self._waiting.get(key, 0) + 1
            try:
                async with lock, self._leased(key):
                    await coroutine
            finally:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key], self._locks[key]
        self._metrics.updates.labels(kind, "handled").inc()
        self._metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)

    @contextlib.asynccontextmanager
    async def _leased(self, user_id: int) -> AsyncIterator[None]:
        """Hold ``user:<id>`` in the database while the update is handled.

        When the database is unavailable the update still runs: its handler meets the same
        failure and tells the user to try again, which beats leaving them without an answer.
        """
        name = f"user:{user_id}"
        try:
            await self._acquire(name)
        except StoreUnavailableError:
            yield
            return
        self._held.add(name)
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew())
        try:
            yield
        finally:
            self._held.discard(name)
            if not self._held and self._renewer is not None:
                self._renewer.cancel()
                self._renewer = None
            with contextlib.suppress(StoreUnavailableError):
                await self._store.release_lease(name, self._holder)

    async def _acquire(self, name: str) -> None:
        wait = _FIRST_WAIT
        while not await self._store.acquire_lease(name, self._holder, USER_LEASE_TTL):
            await self._sleep(wait)
            wait = min(_MAX_WAIT, wait * 2)

    async def _renew(self) -> None:
        """Keep the leases of slow updates (a purchase waiting for the API) while they run.

        One task for all the leases held, running while any is: a task per update cost a
        hundredth of the bot's CPU per update (``bench.throughput --profile``), for leases
        that almost never live long enough to need renewing. A lease is renewed only while
        its update still holds it, so a renewal never brings back a lease just released.
        """
        while True:
            await self._sleep(_RENEW_EVERY)
            for name in list(self._held):
                if name not in self._held:  # released while an earlier one was renewed
                    continue
                try:
                    await self._store.acquire_lease(name, self._holder, USER_LEASE_TTL)
                except StoreUnavailableError:
                    log.warning("could not renew %s: database unavailable", name)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat else None
