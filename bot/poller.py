"""The background poller: watches every active order and feeds reads to the tracker.

Cost per key stays nearly flat however many orders a user has (see README, "Polling"):

* a key with one active order: one ``GET /v1/orders/:id`` per tick (this read also makes the
  provider sync the order, so it never lags);
* a key with several: one ``GET /v1/orders`` per tick answers for all of them, plus, every
  ``sync_every`` ticks, one per-order read in rotation, because the list only shows what the
  provider's worker has synced and may lag. A list entry is trusted only when it shows
  progress (a new SMS, or a final status), so a lagging list never moves an order back;
* an order past its ``expiresAt`` gets a per-order read to learn its final state.

All reads are ``Priority.BACKGROUND``: the client's limiter keeps them within the share of
the key's budget that leaves room for the user's own taps. Keys are polled concurrently and
independently: one key's slow API, 5xx or 429 backs off that key alone. A revoked key (401)
stops that user's polling and they are told once.

With several replicas, each key is polled by exactly one of them: the one holding its lease,
renewed and balanced at the start of every round by :class:`~bot.leases.PollLeases`. The
fleet's other chores (lost purchases, old webhook updates, the retention purge) are a job of
their own, :class:`~bot.chores.FleetChores`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot import logs
from bot.api import JiemaClient, Order, Priority
from bot.api.errors import AuthError, JiemaError, RateLimitedError
from bot.health import DATABASE, Health
from bot.leases import PollLeases
from bot.metrics import Metrics
from bot.notifier import TelegramNotifier
from bot.outbox import Outbox
from bot.services.accounts import AccountService, NotLinkedError
from bot.store import Store, StoredOrder, StoreUnavailableError, User
from bot.tracker import OrderTracker

log = logging.getLogger(__name__)


class Poller:
    """Every ``interval`` one round polls each key this replica holds the lease of.

    Args:
        outbox: Started on whatever is due, in every chat, each round.
        leases: This replica's share of the keys, renewed and balanced each round.
        interval: Seconds between rounds (``POLL_INTERVAL``).
        sync_every: With several orders on a key, force a per-order read every this many rounds.
        clock: Monotonic clock for backoff deadlines and poll lag.
        sleep: Awaitable sleep between rounds and for each key's place in the round.
        join_first: Announce this replica and wait one interval before the first round
            (for a database shared by several replicas; see :meth:`_join`).
    """

    def __init__(
        self,
        api: JiemaClient,
        store: Store,
        accounts: AccountService,
        tracker: OrderTracker,
        notifier: TelegramNotifier,
        outbox: Outbox,
        leases: PollLeases,
        *,
        interval: float,
        metrics: Metrics,
        health: Health,
        sync_every: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        join_first: bool = False,
    ) -> None:
        self._api = api
        self._store = store
        self._accounts = accounts
        self._tracker = tracker
        self._notifier = notifier
        self._outbox = outbox
        self._leases = leases
        self._interval = interval
        self._metrics = metrics
        metrics.poll_interval.set(interval)
        self._health = health
        self._sync_every = sync_every
        self._clock = clock
        self._sleep = sleep
        self._join_first = join_first
        self._ticks = 0
        self._scheduled: set[int] = set()  # waiting for their place in the round
        self._running: dict[int, asyncio.Task[None]] = {}  # reading and sending now
        self._tasks: set[asyncio.Task[object]] = set()
        self._round: asyncio.Task[None] | None = None
        self._loop: asyncio.Task[None] | None = None
        self._backoff: dict[int, tuple[float, int]] = {}
        self._rotation: dict[int, int] = defaultdict(int)
        self._users: tuple[int, asyncio.Task[dict[int, User]]] | None = None  # round's

    def start(self) -> None:
        """Run rounds every ``interval`` until :meth:`stop`."""
        self._loop = asyncio.create_task(self._run())

    async def _run(self) -> None:
        if self._join_first:
            await self._join()
        while True:
            self.tick()
            self._health.beat("poller", 3 * self._interval + 30)
            await self._sleep(self._interval)

    async def _join(self) -> None:
        """Join the fleet one interval before taking keys.

        The others learn of a new replica in their next round, and only then cut their
        share of Telegram's overall rate (and of the keys). A replica that took keys at once
        would post their codes and cards at its share while the others still sent at theirs
        from before it came: Telegram's 429s, a round long, each time replicas start together.
        """
        self._health.beat("poller", 3 * self._interval + 30)
        try:
            await self._leases.join()
        except StoreUnavailableError as exc:
            log.warning("poller: could not announce this replica (%s)", exc)
        await self._sleep(self._interval)

    @property
    def _mine(self) -> set[int]:
        """The keys leased as of the last round (a poll waiting for its place checks it)."""
        return self._leases.mine

    def tick(self) -> None:
        """Run one round in the background unless the previous one is still going.

        Returning at once keeps rounds from piling up when Telegram paces our sends.
        """
        if self._round is not None and not self._round.done():
            return
        self._round = asyncio.create_task(self._guarded_tick())

    async def _guarded_tick(self) -> None:
        """A failing round (e.g. the database briefly locked) is logged; the next one runs.

        Every round writes (heartbeat, leases), so it is also what tells ``/healthz`` that
        the database takes writes: a round failing on it reports the database unavailable,
        the next one that succeeds clears that.
        """
        try:
            await self._tick()
        except StoreUnavailableError as exc:
            log.warning("poller round skipped: database unavailable (%s)", exc)
            self._metrics.database_errors.inc()
            self._health.problem(DATABASE, f"unavailable: {exc}")
        except Exception:
            log.exception("poller round failed")
        else:
            self._health.problem(DATABASE, None)

    async def _tick(self) -> None:
        """Renew and balance leases, then start polling every due key this replica holds."""
        self._ticks += 1
        started = self._clock()
        held = await self._leases.renew()
        counts = await self._store.active_order_users()
        taken = await self._leases.balance(set(counts), held, self._running.keys())
        mine = self._leases.mine
        # Only this replica's share is read and parsed: in a fleet, every replica reading
        # every order each round was a tenth of each one's CPU.
        by_user: dict[int, list[StoredOrder]] = defaultdict(list)
        if mine:
            for order in await self._store.active_orders(polled_by=self._leases.replica_id):
                by_user[order.user_id].append(order)
        self._metrics.active_orders.set(sum(counts.values()))
        self._metrics.pending_deliveries.set(await self._store.count_pending_deliveries())
        # A killed replica's codes are sent by the others once its keys are theirs.
        await self._outbox.resend_pending()
        now = self._clock()
        for user_id in sorted(mine):
            if user_id in self._scheduled or self._backoff.get(user_id, (0.0, 0))[0] > now:
                continue
            self._scheduled.add(user_id)
            # A key just taken (from a killed replica, whose last read is a lease TTL old)
            # is read at once; the others at their place in the round.
            due = started if user_id in taken else started + _phase(user_id, self._interval)
            task = asyncio.create_task(self._poll_user(user_id, by_user[user_id], due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop polling and hand every lease back at once (another replica takes over)."""
        tasks = [*self._tasks, *(t for t in (self._round, self._loop) if t is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._health.forget("poller")
        try:
            await self._leases.release()
        except StoreUnavailableError:
            log.warning("could not hand leases back: database unavailable (they expire)")

    async def _poll_user(self, user_id: int, orders: list[StoredOrder], due: float) -> None:
        """Poll one key at its place in the round.

        A key whose previous poll still runs (its sends paced by Telegram's limits) is still
        scheduled, and polled as soon as that one ends: skipping it until the next round
        would leave six seconds between two of its reads where there should be three, and
        an SMS in that gap waits twice as long.
        """
        me = asyncio.current_task()
        assert me is not None
        logs.bind_user(user_id)  # this task's lines are about this user
        waiting = True  # this task holds the key's place in ``_scheduled``
        try:
            wait = due - self._clock()
            if wait > 0:
                await self._sleep(wait)
            previous = self._running.get(user_id)
            if previous is not None:
                await asyncio.wait([previous])
            # Running from here, before any await: the round's balancing only hands back
            # keys that are not running.
            self._running[user_id] = me
            self._scheduled.discard(user_id)
            waiting = False
            if user_id not in self._mine:  # handed back while it waited for its place
                return
            if previous is not None:
                if self._backoff.get(user_id, (0.0, 0))[0] > self._clock():
                    return  # the poll it followed failed: this key waits out its backoff
                orders = await self._store.active_orders_for_user(user_id)
            self._metrics.poll_lag.observe(max(0.0, self._clock() - due))
            await self._poll(user_id, orders)
            self._backoff.pop(user_id, None)
        except AuthError:
            await self._key_revoked(user_id)
        except RateLimitedError as exc:
            self._delay(user_id, exc.retry_after)
        except (JiemaError, StoreUnavailableError) as exc:
            log.info("polling user %s failed: %s", user_id, type(exc).__name__)
            self._delay(user_id, None)
        except Exception:
            log.exception("polling user %s crashed", user_id)
            self._delay(user_id, None)
        finally:
            if waiting:
                self._scheduled.discard(user_id)
            if self._running.get(user_id) is me:
                del self._running[user_id]

    def _delay(self, user_id: int, retry_after: float | None) -> None:
        """Back off one user: ``Retry-After`` if given, else capped exponential with jitter."""
        _, failures = self._backoff.get(user_id, (0.0, 0))
        wait = (
            retry_after
            if retry_after is not None
            else min(60.0, self._interval * 2**failures) * random.uniform(0.5, 1.0)
        )
        self._backoff[user_id] = (self._clock() + wait, failures + 1)

    async def _key_revoked(self, user_id: int) -> None:
        if await self._store.set_key_revoked(user_id):
            log.info("key of user %s was refused; polling stops until relinked", user_id)
            await self._notifier.tell_key_revoked(user_id)

    async def _user(self, user_id: int) -> User | None:
        """The user's row as read in this round, like the round's orders.

        One query reads the rows of every watched user (:meth:`_watched_users`), instead of
        one query per key per round; a user not in it (their first order came after it) is
        read alone.
        """
        users = await self._watched_users()
        user = users.get(user_id)
        return user if user is not None else await self._store.get_user(user_id)

    async def _watched_users(self) -> dict[int, User]:
        """The rows of the users whose keys this replica polls, read once per round for its
        polls."""
        if self._users is None or self._users[0] != self._ticks:
            task = asyncio.create_task(self._store.users_polled_by(self._leases.replica_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._users = (self._ticks, task)
        task = self._users[1]
        try:
            # Shielded: one poll cancelled (its key handed back) leaves the others their read.
            return await asyncio.shield(task)
        except Exception:
            if self._users is not None and self._users[1] is task:
                self._users = None  # the next poll asks again
            raise

    async def _poll(self, user_id: int, orders: list[StoredOrder]) -> None:
        user = await self._user(user_id)
        if user is None or user.key_revoked:
            return
        try:
            key = await self._accounts.key_for(user_id, user=user)
        except NotLinkedError:
            return
        live = []
        for order in orders:
            if order.is_final:
                await self._tracker.finish_pending(order)
            else:
                live.append(order)
        if not live:
            return
        # As read fresh this tick and applied: their cards are checked against that.
        applied: dict[str, StoredOrder] = {}
        now = datetime.now(UTC)
        direct = {o.id for o in live if o.expires_at is not None and o.expires_at <= now}
        if len(live) == 1:
            direct.add(live[0].id)
        else:
            listed = await self._api.listed(
                key,
                {order.id for order in live},
                limit=min(100, max(20, len(live))),
                priority=Priority.BACKGROUND,
            )
            for order in live:
                item = listed.get(order.id)
                if item is None:
                    direct.add(order.id)
                elif order.id not in direct and _shows_progress(order, item):
                    applied[order.id] = await self._tracker.apply(order, item)
            if self._ticks % self._sync_every == 0:
                turn = self._rotation[user_id] % len(live)
                self._rotation[user_id] += 1
                direct.add(live[turn].id)
        for order in live:
            if order.id in direct:
                fresh = await self._api.order(key, order.id, priority=Priority.BACKGROUND)
                if _is_news(order, fresh):  # most reads show nothing new: no lock, no re-read
                    applied[order.id] = await self._tracker.apply(order, fresh)
        after_codes = False
        for order in live:
            # A card needs a redraw (a locked re-read, then an edit) only when it no longer
            # shows the order as last applied: a new SMS or status, or the countdown moved.
            current = applied.get(order.id, order)
            if self._notifier.card_is_current(current, user.language):
                continue
            if current.sms_seen > order.sms_seen:
                # Its code is on its way (the outbox, at the chat's pace): the card is
                # redrawn by the outbox after the chat's codes, instead of taking the turns
                # of a bulk buyer's next codes.
                await self._store.mark_card_stale(current.id, now)
                after_codes = True
            else:
                await self._notifier.show_card(current)
        if after_codes:
            self._outbox.kick(user_id)  # the card marked stale waits for its codes


PHASE_STEP = 0.05
"""Seconds between two places in the round at which keys are polled."""


def _phase(user_id: int, interval: float) -> float:
    """When in the round (0 to 0.9 of the interval, in steps of :data:`PHASE_STEP`) a key
    is polled, fixed per key.

    Spreading the keys over the interval keeps every key's reads from leaving together at
    each round (which cost latency for the last ones), and each key's own reads stay one
    interval apart. The keys of one step are polled together: they share the event loop's
    wake-ups, and the database thread serves their queries in a row. Measured in
    ``bench.scale_out`` (300 keys, 3 s), alternating runs: 54 steps of a few keys each
    cost 13-22 % less CPU per read than 1,000 places of at most one key.
    """
    steps = max(1, int(0.9 * interval / PHASE_STEP))
    return (zlib.crc32(str(user_id).encode()) % steps) * PHASE_STEP


def _is_news(stored: StoredOrder, fresh: Order) -> bool:
    """A per-order read tells something the round's row does not show.

    If not, the tracker would write nothing either (whatever a button press wrote since the
    round began, this read adds nothing to it), so it is not asked.
    """
    return (
        fresh.status != stored.status
        or (fresh.expires_at is not None and fresh.expires_at != stored.expires_at)
        or len(fresh.sms_history) > stored.sms_seen
    )


def _shows_progress(stored: StoredOrder, listed: Order) -> bool:
    """A list entry may lag: act on it only when it is ahead of what we already know."""
    return len(listed.sms_history) > stored.sms_seen or listed.is_final
