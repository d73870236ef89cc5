"""Live orders for the Mini App: one watcher per order, fanning out to every open page.

A page following an order is a :class:`Listener`. However many pages follow the same
order, one watcher task reads it from the database (the stored order and its SMS, never
the API, so it sees what any replica's poller recorded) once per ``interval`` and hands each
change to all of them: database reads grow with the number of orders followed, not with
the number of pages. Every timing (reads, heartbeats, a stream's maximum duration) is kept
by the watcher with an injectable sleep and clock.

Streams are capped: ``per_user`` for one user (opening another ends the user's oldest, told
so, which a page takes as "do not reconnect"), and ``total`` for the process (beyond it,
:class:`StreamsFull`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from bot.services.orders import OrderService, can_cancel, can_next_sms, refunded_cents
from bot.store import Delivery, StoredOrder

log = logging.getLogger(__name__)


class StreamsFull(Exception):
    """The process already holds its maximum of live streams."""


class NotYoursError(Exception):
    """No such order for this user (unknown id, or someone else's)."""


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the bot's database has it, with every SMS the tracker recorded."""

    order: StoredOrder
    deliveries: tuple[Delivery, ...]

    def fingerprint(self) -> tuple[object, ...]:
        """What the page shows of the order: a change here is worth a push."""
        o = self.order
        sms = tuple((d.position, d.body, d.received_at) for d in self.deliveries)
        return (o.status, o.expires_at, o.sms_seen, o.charged_cents, o.phone, sms)

    @property
    def can_cancel(self) -> bool:
        """See :func:`bot.services.orders.can_cancel`."""
        return can_cancel(self.order.status, self.order.sms_seen)

    @property
    def can_next_sms(self) -> bool:
        """See :func:`bot.services.orders.can_next_sms`."""
        return can_next_sms(self.order.status)

    @property
    def refunded_cents(self) -> int | None:
        """See :func:`bot.services.orders.refunded_cents`."""
        return refunded_cents(self.order.status, self.order.charged_cents)


class End(Enum):
    """Why a stream ended."""

    FINAL = "final"  # the order is final: nothing more will change
    REPLACED = "replaced"  # the user opened more streams than allowed: this was the oldest
    EXPIRED = "expired"  # open for the maximum duration (the page reconnects)
    GONE = "gone"  # the page went away, or the order is no longer there
    CLOSING = "closing"  # the process shuts down


class Listener:
    """One page following one order: the latest change not yet taken, heartbeats, its end.

    Only the latest state is kept, so a slow page costs no memory: it skips to the newest.
    Iterate it for the states (None: a heartbeat); :attr:`end` says why it stopped.
    """

    def __init__(
        self, user_id: int, order_id: str, opened: float, gone: Callable[[], bool]
    ) -> None:
        self.user_id = user_id
        self.order_id = order_id
        self.opened = opened
        self.last_sent = opened
        self.gone = gone
        self.end: End | None = None
        self._state: OrderState | None = None
        self._beat = False
        self._wake = asyncio.Event()

    def push(self, state: OrderState) -> None:
        self._state = state
        self._wake.set()

    def beat(self) -> None:
        self._beat = True
        self._wake.set()

    def finish(self, end: End) -> None:
        if self.end is None:
            self.end = end
        self._wake.set()

    def __aiter__(self) -> Listener:
        return self

    async def __anext__(self) -> OrderState | None:
        while True:
            if self._state is not None:
                state, self._state = self._state, None
                return state
            if self._beat:
                self._beat = False
                return None
            if self.end is not None:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()


@dataclass(slots=True)
class _Watch:
    """The one watcher of an order, and who listens."""

    user_id: int
    state: OrderState
    listeners: list[Listener] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class LiveOrders:
    """The live streams of one process.

    Args:
        orders: Reads the stored order and its SMS.
        interval: Seconds between two reads of a followed order.
        heartbeat: Seconds of silence after which a listener gets a heartbeat.
        max_duration: Seconds one stream stays open (the page reconnects).
        per_user: Streams one user may hold; another ends their oldest.
        total: Streams the process holds at most.
        sleep: Waits ``interval`` (injectable for tests).
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        orders: OrderService,
        *,
        interval: float = 0.4,
        heartbeat: float = 15.0,
        max_duration: float = 600.0,
        per_user: int = 3,
        total: int = 1000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._orders = orders
        self._interval = interval
        self._heartbeat = heartbeat
        self._max_duration = max_duration
        self._per_user = per_user
        self._total = total
        self._sleep = sleep
        self._clock = clock
        self._watches: dict[str, _Watch] = {}
        self._by_user: dict[int, deque[Listener]] = {}
        self._count = 0
        self.rounds = 0
        """Reads of followed orders made so far, one per watcher per ``interval``."""

    def listeners(self, user_id: int | None = None) -> int:
        """Open streams, of one user or of the whole process."""
        if user_id is None:
            return self._count
        return len(self._by_user.get(user_id, ()))

    def watchers(self) -> int:
        """Orders being read (one watcher each, however many pages follow them)."""
        return len(self._watches)

    async def follow(
        self, user_id: int, order_id: str, gone: Callable[[], bool] = lambda: False
    ) -> Listener:
        """Start following the user's order: the listener holds its current state first.

        Raises:
            NotYoursError: unknown, or another user's order.
            StreamsFull: the process holds its maximum of streams.
        """
        if self._count >= self._total:
            raise StreamsFull
        watch = self._watches.get(order_id)
        if watch is None:
            stored = await self._orders.get(user_id, order_id)
            if stored is None:
                raise NotYoursError
            state = await self.state(stored)
            if state.order.is_final:  # nothing to watch: the state, and the end
                listener = Listener(user_id, order_id, self._clock(), gone)
                listener.push(state)
                listener.finish(End.FINAL)
                return listener
            # Another page may have started a watcher while this one read.
            watch = self._watches.setdefault(order_id, _Watch(user_id, state))
        if watch.user_id != user_id:
            raise NotYoursError
        if self._count >= self._total:
            raise StreamsFull
        mine = self._by_user.setdefault(user_id, deque())
        while len(mine) >= self._per_user:
            oldest = mine[0]
            oldest.finish(End.REPLACED)
            self.leave(oldest)
        listener = Listener(user_id, order_id, self._clock(), gone)
        listener.push(watch.state)
        watch.listeners.append(listener)
        self._by_user.setdefault(user_id, deque()).append(listener)
        self._count += 1
        if watch.task is None:
            watch.task = asyncio.create_task(self._watch(order_id, watch))
        return listener

    def leave(self, listener: Listener) -> None:
        """Stop serving ``listener`` (its page went, or it ended); idempotent."""
        watch = self._watches.get(listener.order_id)
        if watch is not None and listener in watch.listeners:
            watch.listeners.remove(listener)
            self._count -= 1
            mine = self._by_user.get(listener.user_id)
            if mine is not None:
                mine.remove(listener)
                if not mine:
                    del self._by_user[listener.user_id]
            if not watch.listeners:  # nobody left: the watcher stops, a new page starts anew
                del self._watches[listener.order_id]
                if watch.task not in (None, asyncio.current_task()):
                    watch.task.cancel()
        listener.finish(End.GONE)

    async def close(self) -> None:
        """End every stream and watcher (at shutdown)."""
        watches = list(self._watches.values())
        for watch in watches:
            for listener in list(watch.listeners):
                listener.finish(End.CLOSING)
                self.leave(listener)
        tasks = [w.task for w in watches if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def state(self, order: StoredOrder) -> OrderState:
        """The order with every SMS recorded for it."""
        return OrderState(order, tuple(await self._orders.deliveries(order.id)))

    async def _watch(self, order_id: str, watch: _Watch) -> None:
        """Read the order once per interval for all its listeners, until none is left."""
        try:
            while watch.listeners:
                await self._sleep(self._interval)
                self._tend(watch)
                if not watch.listeners:
                    return
                self.rounds += 1
                current = await self._orders.get(watch.user_id, order_id)
                if current is None:
                    self._end_all(watch, End.GONE)
                    return
                state = await self.state(current)
                if state.fingerprint() != watch.state.fingerprint():
                    watch.state = state
                    now = self._clock()
                    for listener in watch.listeners:
                        listener.last_sent = now
                        listener.push(state)
                if state.order.is_final:
                    self._end_all(watch, End.FINAL)
                    return
        except Exception:
            log.exception("webapp: watching an order failed")
            self._end_all(watch, End.GONE)  # the pages reconnect
        finally:
            if self._watches.get(order_id) is watch:
                del self._watches[order_id]

    def _tend(self, watch: _Watch) -> None:
        """Heartbeats for quiet listeners; end the gone and the expired."""
        now = self._clock()
        for listener in list(watch.listeners):
            if listener.gone():
                self.leave(listener)
            elif now - listener.opened >= self._max_duration:
                listener.finish(End.EXPIRED)
                self.leave(listener)
            elif now - listener.last_sent >= self._heartbeat:
                listener.last_sent = now
                listener.beat()

    def _end_all(self, watch: _Watch, end: End) -> None:
        for listener in list(watch.listeners):
            listener.finish(end)
            self.leave(listener)
