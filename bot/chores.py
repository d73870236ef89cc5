"""The fleet's chores: one replica at a time (lease ``job:reconcile``) tidies up after all.

Every ``interval`` (ten poll rounds) the replica holding the lease:

* settles purchases whose answer was lost (:meth:`~bot.services.purchases.PurchaseService.
  reconcile_pending`): an order found gets its card, posted silently; a purchase written
  off tells its user nothing was bought;
* forgets the webhook update ids older than Telegram keeps them (it drops undelivered
  updates after 24 hours);
* purges what is past the retention period (:class:`~bot.services.privacy.PrivacyService`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from bot.jobs import LeasedJob
from bot.leases import LEASE_TTL
from bot.notifier import TelegramNotifier
from bot.services.privacy import PrivacyService
from bot.services.purchases import PurchaseService
from bot.store import Store

__all__ = ["RECONCILE_LEASE", "UPDATE_MEMORY", "FleetChores"]

RECONCILE_LEASE: Final = "job:reconcile"
"""The lease of the fleet's chores (named after the first of them)."""
UPDATE_MEMORY: Final = timedelta(days=2)
"""How long a handled webhook update id is remembered (Telegram retries for 24 hours)."""


class FleetChores(LeasedJob):
    """Runs the chores every ``interval`` while this replica holds the lease."""

    def __init__(
        self,
        store: Store,
        purchases: PurchaseService,
        notifier: TelegramNotifier,
        *,
        replica_id: str,
        interval: float,
        privacy: PrivacyService | None = None,
        lease_ttl: timedelta = LEASE_TTL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            store,
            name="fleet chores",
            lease=RECONCILE_LEASE,
            replica_id=replica_id,
            lease_ttl=lease_ttl,
            interval=interval,
            sleep=sleep,
        )
        self._purchases = purchases
        self._notifier = notifier
        self._privacy = privacy

    async def work(self) -> bool:
        await self.round()
        return False

    async def round(self) -> bool:
        """The chores, if this replica holds the lease; whether it did them."""
        if not await self.hold_lease():
            return False
        await self._store.prune_updates(UPDATE_MEMORY)
        if self._privacy is not None:
            await self._privacy.purge_if_due()
        found, given_up = await self._purchases.reconcile_pending()
        for bought in found:
            await self._notifier.post_card(bought.order)
        for purchase in given_up:
            await self._notifier.tell_not_bought(purchase.user_id)
        return True
