"""The outbox: sending what the tracker recorded, per chat, in order.

:class:`~bot.tracker.OrderTracker` only *records* (a row of ``sms_deliveries`` per new SMS,
a final notice due on the order row); nothing waits in memory. The outbox sends what is
due, per chat, in this order: codes (as the SMS arrived), then final notices, then stale
cards. Each chat is served by its own task, so one chat's stalled send never holds up
another's code.

Each code send is claimed in the database first (``claimed_by``/``claimed_until``), so two
replicas never send the same row at once, and what became of it decides what follows:

* sent: the row is marked sent;
* refused (the connection was never made, or 429): not delivered, retried with backoff
  (429: after ``retry_after``), for that chat only;
* unknown (timeout, 5xx, connection lost after the request went out): maybe delivered.
  The row is retried once more with backoff and then given up: a lost answer costs at most
  one duplicate, and the order card shows every code anyway;
* blocked (403): the chat is marked inactive and the row waits until the user is back;
* any other 4xx: logged and given up.

A claim whose holder died (crash, SIGKILL) expires and counts as one unknown outcome: the
code is sent again once, which is the duplicate the README admits to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot import logs
from bot.api import Sms
from bot.store import Delivery, Store, StoredOrder, StoreUnavailableError
from bot.telegram_outcome import Outcome, Refused, RetryLater, Sent, Unknown

__all__ = ["Notifier", "Outbox", "default_backoff"]

log = logging.getLogger(__name__)

_QUEUED_AHEAD = 10
"""Sends a chat may have paced ahead of a claimed code (~1/s): its claim outlives them."""


class Notifier(Protocol):
    """What the outbox and the tracker need from the chat side (implemented with Telegram in
    notifier.py).

    Sends return None when the user cannot be reached now (blocked the bot), else what
    became of the send.
    """

    async def push_code(self, order: StoredOrder, sms: Sms) -> Outcome[int] | None:
        """Send a new message with the SMS (its message id when sent)."""
        ...

    async def show_card(self, order: StoredOrder, *, now: bool = False) -> None:
        """Bring the order card up to date (no-op when nothing visible changed; ``now``:
        even if a failed edit left it waiting for its retry)."""
        ...

    async def tell_final(self, order: StoredOrder) -> Outcome[int] | None:
        """Tell the user an order ended on its own (expiry)."""
        ...


class Outbox:
    """Sends each chat's due codes, final notices and stale cards; see the module docs.

    Args:
        replica: This process's name in claims (unique among replicas sharing a database).
        send_timeout: ``TELEGRAM_TIMEOUT``; a claim lasts long enough for a batch of sends.
        backoff: Delay before the n-th retry of a failed send (n = 1, 2, …).
        clock: Wall clock (UTC) for next-attempt times and claims.
    """

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        *,
        replica: str | None = None,
        send_timeout: float = 10.0,
        backoff: Callable[[int], timedelta] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._replica = replica or socket.gethostname()
        self._lease = timedelta(seconds=_QUEUED_AHEAD * (send_timeout + 1.0) + 10.0)
        self._backoff = backoff or default_backoff
        self._clock = clock
        self._drains: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()

    async def resend_pending(self) -> None:
        """Start sending whatever is due (codes, stale cards) to every reachable chat that
        no other live replica polls (see :meth:`Store.users_with_due_sends`).

        Returns at once: each chat is served by its own task, so one chat's stalled send
        never holds up another's code.
        """
        for user_id in await self._store.users_with_due_sends(self._clock(), self._replica):
            self.kick(user_id)

    def kick(self, user_id: int) -> None:
        """Serve the chat's outbox now (again, if it is being served)."""
        if user_id in self._drains:
            self._again.add(user_id)
            return
        task = asyncio.create_task(self._drain(user_id), name=f"outbox-{user_id}")
        self._drains[user_id] = task
        task.add_done_callback(lambda _: self._drains.pop(user_id, None))

    async def stop(self) -> None:
        """Cancel the chats' sends in flight (at shutdown) and end their claims at once, so
        another replica resends them (once, as after a crash) if they had not been recorded."""
        tasks = list(self._drains.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(StoreUnavailableError):  # then they expire with the lease
            await self._store.expire_claims(self._replica, self._clock())

    @property
    def chats_in_flight(self) -> int:
        """Chats being served right now (each one task; nothing else is held in memory)."""
        return len(self._drains)

    async def idle(self) -> None:
        """Wait until no chat is being served (for tests and orderly shutdown)."""
        while self._drains:
            await asyncio.gather(*self._drains.values(), return_exceptions=True)

    async def _drain(self, user_id: int) -> None:
        logs.bind_user(user_id)  # a task of its own: its lines are about this user
        try:
            while True:
                self._again.discard(user_id)
                user = await self._store.get_user(user_id)
                if user is None or not user.chat_active:
                    return  # everything waits, due, until they unblock the bot
                if await self._send_codes(user_id):
                    await self._send_finals(user_id)
                    await self._redraw_stale_cards(user_id)
                if user_id not in self._again:
                    return
        except Exception:
            log.exception("outbox of user %s failed; retried at the next tick", user_id)

    async def _send_codes(self, user_id: int) -> bool:
        """Send the chat's due codes in order; False if the chat cannot be sent to now.

        One code is claimed at a time, just before its send: Telegram paces a chat at about
        one message a second, and an SMS that arrived earlier but was read later (another
        order's poll, the order list lagging) must still go before the later ones that were
        waiting their turn.
        """
        while True:
            now = self._clock()
            claimed = await self._store.claim_due_deliveries(
                self._replica, now, now + self._lease, limit=1, user_id=user_id
            )
            if not claimed:
                return True
            if await self._send_code(claimed[0]) is not None:
                return False

    async def _send_code(self, delivery: Delivery) -> datetime | None:
        """Send one claimed code. None to go on with the chat, else when to resume it."""
        order = await self._store.get_order(delivery.order_id)
        if order is None:  # cannot happen with foreign keys; give the row up rather than loop
            await self._store.give_up_delivery(delivery.order_id, delivery.position)
            return None
        sms = Sms(delivery.body, delivery.received_at)
        outcome = await self._notifier.push_code(order, sms)
        where = (delivery.order_id, delivery.position)
        now = self._clock()
        match outcome:
            case Sent(message_id):
                await self._store.mark_delivered(*where, message_id)
                return None
            case None:  # blocked: waits, due, until the chat is active again
                await self._store.release_delivery(*where, self._replica)
                return now
            case RetryLater(delay):
                at = now + delay
                await self._store.reschedule_delivery(*where, self._replica, at, doubtful=False)
                return at
            case Refused() if outcome.answered:
                log.warning("code of order %s #%s refused: %s", *where, outcome.description)
                await self._store.give_up_delivery(*where)
                return None
            case Refused():
                at = now + self._backoff(delivery.attempts + 1)
                await self._store.reschedule_delivery(*where, self._replica, at, doubtful=False)
                return at
            case Unknown():
                at = now + self._backoff(delivery.attempts + 1)
                if not await self._store.reschedule_delivery(
                    *where, self._replica, at, doubtful=True
                ):
                    log.warning(
                        "code of order %s #%s: delivery in doubt twice, not pushed again"
                        " (it is on the order card)",
                        *where,
                    )
                return at
        raise AssertionError(f"unexpected outcome {outcome!r}")

    async def _send_finals(self, user_id: int) -> None:
        """Tell the user about orders that ended on their own (expiry); once, across
        replicas: the notice is claimed on the order first."""
        for order in await self._store.active_orders_for_user(user_id):
            if not order.is_final or order.final_notified:
                continue
            now = self._clock()
            if not await self._store.claim_final_notice(order.id, now, now + self._lease):
                continue
            outcome = await self._notifier.tell_final(order)
            if isinstance(outcome, Sent | Unknown) or (
                isinstance(outcome, Refused) and outcome.answered
            ):
                # Unknown: it may have been told; a repeat is worse than the card showing it.
                await self._store.mark_final_notified(order.id)
                await self._notifier.show_card(order)
                continue
            delay = outcome.delay if isinstance(outcome, RetryLater) else self._backoff(1)
            await self._store.defer_final_notice(order.id, now + delay)
            return

    async def _redraw_stale_cards(self, user_id: int) -> None:
        """Cards whose edit failed or waits for the chat's codes: one edit each, showing the
        order as it is now; a code recorded meanwhile (a kick) goes first."""
        for order in await self._store.stale_cards(self._clock(), user_id=user_id):
            if user_id in self._again:
                return
            await self._notifier.show_card(order)

    async def reclaim_own(self) -> None:
        """At start: sends this replica had claimed when it died are due again (each counts
        as one unknown outcome)."""
        await self._store.expire_claims(self._replica, self._clock())


def default_backoff(attempt: int) -> timedelta:
    """1, 2, 4, 8, 16, then 30 s between tries of one send."""
    return timedelta(seconds=min(30.0, 2.0 ** (attempt - 1)))
