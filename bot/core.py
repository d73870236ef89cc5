"""The process's core: every service, built once at start and shared by all front ends.

The chat handlers (through PTB's context), the webhook, the Mini App's HTTP API and the
poller all use the same :class:`Services` instance, built by :func:`build_services` before
the Telegram application exists.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import httpx
from telegram.ext import ExtBot

from bot.alerts_watcher import AlertWatcher
from bot.api import JiemaClient
from bot.broadcaster import Broadcaster
from bot.chores import FleetChores
from bot.config import Settings
from bot.health import Health
from bot.leases import LEASE_TTL, PollLeases
from bot.metrics import Metrics, labelled
from bot.notifier import TelegramNotifier
from bot.outbox import Outbox
from bot.poller import Poller
from bot.ratelimit import ChatRateLimiter
from bot.replacer import Replacer, interval_for
from bot.services.accounts import AccountService
from bot.services.admin import AdminService, FleetCounters
from bot.services.after_purchase import AfterPurchaseService
from bot.services.alerts import AlertService
from bot.services.broadcasts import BroadcastService
from bot.services.browse import BrowseService
from bot.services.catalog import Catalog
from bot.services.favourites import FavouriteService
from bot.services.orders import OrderService
from bot.services.privacy import PrivacyService
from bot.services.purchases import PurchaseService
from bot.services.quotes import QuoteService
from bot.services.rates import DeliveryRates
from bot.services.replacement import ReplacementService, ReplaceRules
from bot.services.topup import TopUpService
from bot.services.users import UserService
from bot.store import Store
from bot.tracker import OrderTracker
from bot.vault import KeyVault, load_or_create_secret


@dataclass(slots=True)
class Services:
    """Everything handlers, HTTP routes and jobs use."""

    settings: Settings
    replica_id: str
    store: Store
    api: JiemaClient
    users: UserService
    accounts: AccountService
    catalog: Catalog
    rates: DeliveryRates
    browse: BrowseService
    purchases: PurchaseService
    quotes: QuoteService
    orders: OrderService
    notifier: TelegramNotifier
    outbox: Outbox
    tracker: OrderTracker
    poller: Poller
    chores: FleetChores
    metrics: Metrics
    health: Health
    admin: AdminService
    broadcasts: BroadcastService
    broadcaster: Broadcaster
    counters: FleetCounters
    favourites: FavouriteService
    alerts: AlertService
    topup: TopUpService
    after_purchase: AfterPurchaseService
    alert_watcher: AlertWatcher
    replacement: ReplacementService
    replacer: Replacer
    privacy: PrivacyService

    def start_console(self) -> None:
        """Start the console's jobs: the broadcast sender and the fleet counters' flush."""
        self.broadcaster.start()
        self.counters.start()

    async def aclose(self) -> None:
        """Stop the jobs (handing their leases back, flushing counters) and the outbox;
        close the API client."""
        await self.alert_watcher.stop()
        await self.replacer.stop()
        await self.poller.stop()
        await self.chores.stop()
        await self.outbox.stop()
        await self.broadcaster.stop()
        await self.counters.stop()
        await self.api.aclose()


CHORES_EVERY: Final = 10
"""The fleet's chores run every this many poll rounds (on one replica)."""


def replica_id_of(settings: Settings) -> str:
    """This process's name in the fleet's leases and claims: host and HTTP port.

    Unique among live replicas (two processes cannot listen on one host's port), and the
    same after a restart, so a replica killed and started again takes its leases and claims
    back at once instead of waiting for them to expire (a user's next update would otherwise
    wait out the dead process's lease on them).
    """
    if settings.http_port == 0:  # a port picked by the kernel: nothing stable to go by
        return f"{socket.gethostname()}:{secrets.token_hex(4)}"
    return f"{socket.gethostname()}:{settings.http_port}"


def build_services(
    settings: Settings,
    store: Store,
    bot: ExtBot[Any],
    jiema_url: str,
    *,
    metrics: Metrics,
    health: Health,
) -> Services:
    """Wire the services of one process over an open store and an (unstarted) PTB bot."""

    requests = labelled(metrics.jiema_requests)

    def observe(method: str, endpoint: str, status: str) -> None:
        requests(method, endpoint, status).inc()
        if status == "429":
            metrics.jiema_rate_limited.inc()

    vault = KeyVault.from_secret(settings.secret_key or load_or_create_secret(settings.data_dir))
    api = JiemaClient(
        jiema_url,
        timeout=httpx.Timeout(settings.api_timeout, connect=min(5.0, settings.api_timeout)),
        observe=observe,
    )
    accounts = AccountService(api, store, vault)
    catalog = Catalog(api, prices_ttl=settings.prices_ttl)
    rates = DeliveryRates(store)
    purchases = PurchaseService(api, store, accounts, catalog, rates=rates)
    favourites = FavouriteService(accounts, catalog, store)
    replica_id = replica_id_of(settings)
    notifier = TelegramNotifier(bot, store, metrics)
    topup = TopUpService(accounts, store)
    limiter = bot.rate_limiter
    outbox = Outbox(store, notifier, replica=replica_id, send_timeout=settings.telegram_timeout)
    tracker = OrderTracker(store, notifier, outbox, rates=rates)
    counters = FleetCounters(store, metrics)
    privacy = PrivacyService(store, retention=timedelta(days=settings.retention_days))
    leases = PollLeases(
        store,
        replica_id=replica_id,
        metrics=metrics,
        on_replicas=limiter.share_overall if isinstance(limiter, ChatRateLimiter) else None,
    )
    poller = Poller(
        api,
        store,
        accounts,
        tracker,
        notifier,
        outbox,
        leases,
        interval=settings.poll_interval,
        metrics=metrics,
        health=health,
        join_first=store.dialect == "postgresql",
    )
    chores = FleetChores(
        store,
        purchases,
        notifier,
        replica_id=replica_id,
        interval=CHORES_EVERY * settings.poll_interval,
        privacy=privacy,
    )
    alerts = AlertService(
        accounts, catalog, store, rates=rates, lifetime=timedelta(hours=settings.alert_hours)
    )
    watcher = AlertWatcher(
        store,
        accounts,
        catalog,
        notifier,
        replica_id=replica_id,
        health=health,
        interval=settings.alert_interval,
    )
    rules = ReplaceRules(
        after=timedelta(minutes=settings.replace_after), max_replacements=settings.replace_max
    )
    replacement = ReplacementService(
        api,
        store,
        accounts,
        catalog,
        purchases,
        tracker,
        notifier,
        rates,
        rules=rules,
        replica_id=replica_id,
    )
    replacer = Replacer(
        replacement,
        store,
        notifier,
        replica_id=replica_id,
        health=health,
        interval=interval_for(rules.after),
    )
    return Services(
        settings=settings,
        replica_id=replica_id,
        store=store,
        api=api,
        users=UserService(store),
        accounts=accounts,
        catalog=catalog,
        rates=rates,
        browse=BrowseService(accounts, catalog, store, rates, favourites),
        purchases=purchases,
        quotes=QuoteService(purchases, alerts, store),
        orders=OrderService(api, store, accounts, catalog, tracker, notifier),
        notifier=notifier,
        outbox=outbox,
        tracker=tracker,
        poller=poller,
        chores=chores,
        metrics=metrics,
        health=health,
        admin=AdminService(store, settings.admin_ids, replica_id, counters, lease_ttl=LEASE_TTL),
        broadcasts=BroadcastService(store),
        broadcaster=Broadcaster(bot, store, replica_id=replica_id, lease_ttl=LEASE_TTL),
        counters=counters,
        favourites=favourites,
        alerts=alerts,
        topup=topup,
        after_purchase=AfterPurchaseService(purchases, notifier, topup, alerts),
        alert_watcher=watcher,
        replacement=replacement,
        replacer=replacer,
        privacy=privacy,
    )
