"""The back-in-stock watcher: one fleet-wide job that fires alerts, each exactly once.

Whichever replica holds the lease ``job:alerts`` runs a round every ``interval``:

* it reads the prices of each service that has waiting alerts through the shared
  :class:`~bot.services.catalog.Catalog` cache, so a service is read at most once per prices
  time-to-live (a minute) however many alerts it has, and not at all when someone browsing
  it just did. A read uses the key of one of that service's alert owners at
  ``Priority.BACKGROUND``: it comes out of the background share the limiter keeps beside the
  user's own taps, never out of anyone's foreground budget;
* each alert whose country has stock again is claimed in the database before it is sent
  (:meth:`~bot.store.Store.claim_alert`), so two replicas, or a replica and its restart,
  never both send it; the send is then recorded. A user who cannot be reached puts the alert
  back to waiting. A send whose outcome is unknown (timeout), and a crash between Telegram
  accepting the message and the database recording it, leave the claim: after
  ``refire_after`` the alert is sent again, the same choice (a duplicate over a loss) as for
  SMS codes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from bot import views
from bot.api import Priority
from bot.api.errors import AuthError, JiemaError
from bot.health import Health
from bot.jobs import LeasedJob
from bot.notifier import TelegramNotifier
from bot.services.accounts import AccountService, NotLinkedError
from bot.services.catalog import Catalog, Offer
from bot.store import Alert, Store
from bot.telegram_outcome import Sent, Unknown

log = logging.getLogger(__name__)

ALERTS_LEASE: Final = "job:alerts"
"""The lease of the fleet-wide alert watcher."""
INTERVAL: Final = 20.0
"""Seconds between rounds; prices are re-read only when the catalogue's cache has expired."""
LEASE_TTL: Final = timedelta(seconds=60)
"""How long the lease outlives a replica that stopped renewing it (killed)."""
REFIRE_AFTER: Final = timedelta(minutes=2)
"""A claim not recorded as sent this long after it was made is sent again (crash)."""


class AlertWatcher(LeasedJob):
    """Fires back-in-stock alerts from the catalogue, one replica at a time."""

    def __init__(
        self,
        store: Store,
        accounts: AccountService,
        catalog: Catalog,
        notifier: TelegramNotifier,
        *,
        replica_id: str,
        health: Health,
        interval: float = INTERVAL,
        lease_ttl: timedelta = LEASE_TTL,
        refire_after: timedelta = REFIRE_AFTER,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            store,
            name="alerts",
            lease=ALERTS_LEASE,
            replica_id=replica_id,
            lease_ttl=lease_ttl,
            interval=interval,
            health=health,
            health_key="alerts",
            sleep=sleep,
        )
        self._accounts = accounts
        self._catalog = catalog
        self._notifier = notifier
        self._refire_after = refire_after

    async def work(self) -> bool:
        await self.round()
        return False

    async def round(self) -> int:
        """One round, if this replica holds the lease; returns how many alerts were sent.

        With no alert waiting anywhere a round is one read: no lease is taken or renewed.
        """
        waiting = await self._store.alerts_to_check(refire_after=self._refire_after)
        if not waiting:
            return 0
        if not await self.hold_lease():
            return 0
        await self._store.expire_alerts()
        by_service: dict[str, list[Alert]] = defaultdict(list)
        for alert in waiting:
            by_service[alert.service].append(alert)
        sent = 0
        for service, alerts in sorted(by_service.items()):
            offers = await self._offers(service, alerts)
            in_stock = {str(o.country_id): o for o in offers if o.count > 0}
            for alert in alerts:
                offer = in_stock.get(alert.country_id)
                if offer is not None and await self._fire(alert, offer):
                    sent += 1
        return sent

    async def _offers(self, service: str, alerts: list[Alert]) -> list[Offer]:
        """The service's prices, read (on a cache miss) with one of its watchers' keys.

        Owners are tried oldest alert first; one without a usable key (unlinked, revoked)
        is skipped. Any other API failure skips the service until the next round.
        """
        for owner in dict.fromkeys(alert.user_id for alert in alerts):
            try:
                key = await self._accounts.key_for(owner)
                return await self._catalog.offers(
                    key, service, sold_out=True, priority=Priority.BACKGROUND
                )
            except (NotLinkedError, AuthError):
                continue
            except JiemaError as exc:
                log.info("alert prices of %s not read: %s", service, type(exc).__name__)
                return []
        return []

    async def _fire(self, alert: Alert, offer: Offer) -> bool:
        """Claim, send, record; True if Telegram took the message.

        Not delivered (blocked, flood control, refused): back to waiting, for a later
        round. Delivery unknown (timeout, 5xx): the claim stays; after ``refire_after`` the
        alert is sent again, a duplicate being better than a lost alert.
        """
        claimed = await self._store.claim_alert(
            alert.id, offer.price_cents, refire_after=self._refire_after
        )
        if not claimed:
            return False
        outcome = await self._notifier.send(
            alert.user_id, lambda t: views.back_in_stock(t, alert, offer)
        )
        if isinstance(outcome, Unknown):
            return False
        sent = isinstance(outcome, Sent)
        await self._store.finish_alert(alert.id, sent=sent)
        return sent
