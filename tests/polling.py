"""What the poller's tests share: a driven wall clock, orders bought in the sandbox and
saved as the bot would, and a poller assembled from the real parts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram.ext import ExtBot

from bot.api import JiemaClient
from bot.api.models import parse_time
from bot.health import Health
from bot.leases import PollLeases
from bot.metrics import Metrics
from bot.notifier import TelegramNotifier
from bot.outbox import Outbox
from bot.poller import Poller
from bot.sandbox import SandboxServer
from bot.sandbox.wire import order_json
from bot.services.accounts import AccountService
from bot.services.rates import DeliveryRates
from bot.store import Store, StoredOrder
from bot.tracker import OrderTracker
from bot.vault import KeyVault


class WallClock:
    """A UTC wall clock that moves only when the test says (the store's, the notifier's)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def tg_country(sandbox: SandboxServer) -> int:
    """A country selling Telegram numbers with stock to spare."""
    service = sandbox.engine.catalogue.service("tg")
    assert service is not None
    offers = sandbox.engine.catalogue.offers(service)
    return next(o for o in offers if o.stock > 20).country_id


async def buy(
    sandbox: SandboxServer,
    store: Store,
    vault: KeyVault,
    user_id: int,
    key: str,
    country_id: int,
) -> StoredOrder:
    """Rent a number in the sandbox for ``key`` and save the order as a purchase would."""
    account = sandbox.engine.account_of_key(key)
    made = order_json(sandbox.engine.create_order(account, "tg", country_id))
    order = StoredOrder(
        id=str(made["id"]),
        user_id=user_id,
        key_fingerprint=vault.fingerprint(key),
        service="tg",
        service_name="Telegram",
        country_id=str(country_id),
        country_slug="",
        phone=str(made["phone"]),
        status=str(made["status"]),
        expires_at=parse_time(str(made["expiresAt"])),
        charged_cents=int(str(made["chargedCents"])),
    )
    assert await store.save_order(order)
    return order


def make_poller(
    name: str,
    api: JiemaClient,
    store: Store,
    accounts: AccountService,
    bot: ExtBot[Any],
    *,
    interval: float = 3.0,
    sync_every: int = 3,
    join_first: bool = False,
    on_replicas: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[Poller, Outbox]:
    """Replica ``name``'s poller with its own notifier, outbox and tracker, and its outbox."""
    notifier = TelegramNotifier(bot, store, Metrics())
    outbox = Outbox(store, notifier)
    metrics = Metrics()
    poller = Poller(
        api,
        store,
        accounts,
        OrderTracker(store, notifier, outbox, rates=DeliveryRates(store)),
        notifier,
        outbox,
        PollLeases(store, replica_id=name, metrics=metrics, on_replicas=on_replicas),
        interval=interval,
        metrics=metrics,
        health=Health(),
        sync_every=sync_every,
        join_first=join_first,
        clock=clock,
        sleep=sleep,
    )
    return poller, outbox
