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
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from bot.api import JiemaClient, Order, Priority
from bot.api.errors import AuthError, JiemaError, RateLimitedError
from bot.notifier import TelegramNotifier
from bot.services.accounts import AccountService, NotLinkedError
from bot.services.purchases import PurchaseService
from bot.store import Store, StoredOrder
from bot.tracker import OrderTracker

log = logging.getLogger(__name__)


class Poller:
    """One tick polls every key that is due; keys run as independent tasks.

    Args:
        interval: Seconds between ticks (``POLL_INTERVAL``).
        sync_every: With several orders on a key, force a per-order read every this many ticks.
        reconcile_every: Look for lost purchases every this many ticks.
        clock: Monotonic clock for backoff deadlines.
    """

    def __init__(
        self,
        api: JiemaClient,
        store: Store,
        accounts: AccountService,
        tracker: OrderTracker,
        notifier: TelegramNotifier,
        purchases: PurchaseService,
        *,
        interval: float,
        sync_every: int = 3,
        reconcile_every: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._store = store
        self._accounts = accounts
        self._tracker = tracker
        self._notifier = notifier
        self._purchases = purchases
        self._interval = interval
        self._sync_every = sync_every
        self._reconcile_every = reconcile_every
        self._clock = clock
        self._ticks = 0
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._round: asyncio.Task[None] | None = None
        self._backoff: dict[int, tuple[float, int]] = {}
        self._rotation: dict[int, int] = defaultdict(int)

    def tick(self) -> None:
        """Run one round in the background unless the previous one is still going.

        Called by the JobQueue every ``interval``; returning at once keeps the scheduler
        from piling up (or warning about) overlapping runs when Telegram paces our sends.
        """
        if self._round is not None and not self._round.done():
            return
        self._round = asyncio.create_task(self._guarded_tick())

    async def _guarded_tick(self) -> None:
        """A failing round (e.g. the database briefly locked) is logged; the next one runs."""
        try:
            await self._tick()
        except Exception:
            log.exception("poller round failed")

    async def _tick(self) -> None:
        """Start polling every due user; returns without waiting for slow ones."""
        self._ticks += 1
        await self._tracker.resend_pending()
        if self._ticks % self._reconcile_every == 1:
            found, given_up = await self._purchases.reconcile_pending()
            for bought in found:
                await self._notifier.post_card(bought.order)
            for purchase in given_up:
                await self._notifier.tell_not_bought(purchase.user_id)
        by_user: dict[int, list[StoredOrder]] = defaultdict(list)
        for order in await self._store.active_orders():
            by_user[order.user_id].append(order)
        now = self._clock()
        for user_id, orders in by_user.items():
            if user_id in self._busy or self._backoff.get(user_id, (0.0, 0))[0] > now:
                continue
            self._busy.add(user_id)
            task = asyncio.create_task(self._poll_user(user_id, orders))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel polls in flight (at shutdown); their work is re-done after restart."""
        for task in [*self._tasks, *([self._round] if self._round else [])]:
            task.cancel()
        await asyncio.gather(
            *self._tasks, *([self._round] if self._round else []), return_exceptions=True
        )

    async def _poll_user(self, user_id: int, orders: list[StoredOrder]) -> None:
        try:
            await self._poll(user_id, orders)
            self._backoff.pop(user_id, None)
        except AuthError:
            await self._key_revoked(user_id)
        except RateLimitedError as exc:
            self._delay(user_id, exc.retry_after)
        except JiemaError as exc:
            log.info("polling user %s failed: %s", user_id, type(exc).__name__)
            self._delay(user_id, None)
        except Exception:
            log.exception("polling user %s crashed", user_id)
            self._delay(user_id, None)
        finally:
            self._busy.discard(user_id)

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

    async def _poll(self, user_id: int, orders: list[StoredOrder]) -> None:
        user = await self._store.get_user(user_id)
        if user is None or user.key_revoked:
            return
        try:
            key = await self._accounts.key_for(user_id)
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
        touched: set[str] = set()  # read fresh this tick: their cards may need redrawing
        now = datetime.now(UTC)
        direct = {o.id for o in live if o.expires_at is not None and o.expires_at <= now}
        if len(live) == 1:
            direct.add(live[0].id)
        else:
            page = await self._api.orders(
                key, limit=min(100, max(20, len(live))), priority=Priority.BACKGROUND
            )
            listed = {item.id: item for item in page.items}
            for order in live:
                item = listed.get(order.id)
                if item is None:
                    direct.add(order.id)
                elif order.id not in direct and _shows_progress(order, item):
                    await self._tracker.apply(order, item)
                    touched.add(order.id)
            if self._ticks % self._sync_every == 0:
                turn = self._rotation[user_id] % len(live)
                self._rotation[user_id] += 1
                direct.add(live[turn].id)
        for order in live:
            if order.id in direct:
                fresh = await self._api.order(key, order.id, priority=Priority.BACKGROUND)
                await self._tracker.apply(order, fresh)
                touched.add(order.id)
        for order in live:
            # An untouched order is as the tick read it; its card only needs a redraw (a
            # locked re-read, then an edit) when the countdown moved.
            if order.id in touched or not self._notifier.card_is_current(order, user.language):
                await self._notifier.show_card(order)


def _shows_progress(stored: StoredOrder, listed: Order) -> bool:
    """A list entry may lag: act on it only when it is ahead of what we already know."""
    return len(listed.sms_history) > stored.sms_seen or listed.is_final
