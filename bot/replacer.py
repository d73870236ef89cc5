"""The automatic replacement job: one replica at a time (lease ``job:replace``) runs the
swaps of :class:`~bot.services.replacement.ReplacementService` and tells the users.

The rule and every money step live in the service, each step recorded in the database
before the next request, so this job only drives it: every ``interval`` it takes the lease,
runs a round (resumed swaps first, then the orders that are due) and shows the outcomes:

* **replaced**: the card (now the new order's, in the same message) shows the old number
  refunded, the new number and the replacements left; a new message announces the new
  number (the user must type it into the service again). The swap is finished once that
  message was sent, so a crash in between announces it once more rather than never;
* **kept**: an SMS came during the swap; its code goes out through the outbox as usual;
* **gave up**: refunded, nothing to buy at or below the confirmed price: the card says so
  and a message tells the user (a swap given up before any refund, the key refused, say,
  leaves the order as it was and says nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from bot import views
from bot.health import Health
from bot.jobs import LeasedJob
from bot.notifier import TelegramNotifier
from bot.order_status import OrderStatus
from bot.services.replacement import GaveUp, Kept, Replaced, ReplacementService, SwapOutcome
from bot.store import Store
from bot.telegram_outcome import RetryLater

__all__ = ["REPLACE_LEASE", "Replacer", "interval_for"]

REPLACE_LEASE: Final = "job:replace"
"""The lease of the fleet-wide replacement job."""
LEASE_TTL: Final = timedelta(seconds=60)
"""How long the lease outlives a replica that stopped renewing it (killed)."""


def interval_for(replace_after: timedelta) -> float:
    """Seconds between rounds: a fifth of ``REPLACE_AFTER``, between 0.5 and 15 s."""
    return max(0.5, min(15.0, replace_after.total_seconds() / 5))


class Replacer(LeasedJob):
    """Runs replacement rounds while this replica holds the lease."""

    def __init__(
        self,
        service: ReplacementService,
        store: Store,
        notifier: TelegramNotifier,
        *,
        replica_id: str,
        health: Health,
        interval: float,
        lease_ttl: timedelta = LEASE_TTL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            store,
            name="replacement",
            lease=REPLACE_LEASE,
            replica_id=replica_id,
            lease_ttl=lease_ttl,
            interval=interval,
            health=health,
            health_key="replacer",
            sleep=sleep,
        )
        self._service = service
        self._notifier = notifier

    async def work(self) -> bool:
        await self.round()
        return False

    async def round(self) -> list[SwapOutcome]:
        """One round, if this replica holds the lease; the swaps that ended in it."""
        if not await self.hold_lease():
            return []
        outcomes = await self._service.round()
        for outcome in outcomes:
            await self._show(outcome)
        return outcomes

    async def _show(self, outcome: SwapOutcome) -> None:
        if isinstance(outcome, Replaced):
            await self._notifier.show_card(outcome.new, now=True)
            if outcome.old.card_message_id is not None:
                await self._notifier.show_card(outcome.old, now=True)
            sent = await self._notifier.send(
                outcome.new.user_id,
                lambda t: views.replacement_bought(t, outcome.old, outcome.new),
                policy=None,
            )
            if not isinstance(sent, RetryLater):
                await self._service.announced(outcome)
        elif isinstance(outcome, Kept):
            await self._notifier.show_card(outcome.order, now=True)
        elif isinstance(outcome, GaveUp):
            if outcome.order.card_message_id is not None:
                await self._notifier.show_card(outcome.order, now=True)
            if outcome.order.status == OrderStatus.CANCELLED:  # refunded: say so
                await self._notifier.tell(
                    outcome.order.user_id, lambda t: views.replacement_not_bought(t, outcome.order)
                )
