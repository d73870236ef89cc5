"""The real parts behind the shop's services: sandbox API, client, SQLite, the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram.ext import ExtBot

from bot.alerts_watcher import AlertWatcher
from bot.api import JiemaClient
from bot.app import build_bot
from bot.config import Settings
from bot.fakebotapi import FakeBotApi, FakeUser
from bot.health import Health
from bot.metrics import Metrics
from bot.notifier import TelegramNotifier
from bot.sandbox import SandboxConfig, SandboxServer
from bot.services.accounts import AccountService
from bot.services.alerts import AlertService
from bot.services.catalog import Catalog
from bot.services.favourites import FavouriteService
from bot.services.rates import DeliveryRates
from bot.services.topup import TopUpService
from bot.store import Store, open_store
from bot.vault import KeyVault, generate_secret

USER = 1001
OTHER = 2002


class Ticks:
    """A monotonic clock for the catalogue's cache that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class World:
    """One bot process's shop services over shared real parts."""

    def __init__(
        self,
        sandbox: SandboxServer,
        telegram: FakeBotApi,
        store: Store,
        api: JiemaClient,
        bot: ExtBot[Any],
        vault: KeyVault,
    ) -> None:
        self.sandbox = sandbox
        self.telegram = telegram
        self.store = store
        self.api = api
        self.bot = bot
        self.vault = vault
        self.ticks = Ticks()
        self.accounts = AccountService(api, store, vault)
        self.catalog = Catalog(api, clock=self.ticks)
        self.favourites = FavouriteService(self.accounts, self.catalog, store)
        self.rates = DeliveryRates(store)
        self.alerts = AlertService(
            self.accounts, self.catalog, store, rates=self.rates, lifetime=timedelta(hours=24)
        )
        self.topup = TopUpService(self.accounts, store)
        self.notifier = TelegramNotifier(bot, store, Metrics())
        self.keys: dict[int, str] = {}

    def replica(self, store: Store) -> World:
        """Another process over ``store`` (the same database): its own cache and services."""
        twin = World(self.sandbox, self.telegram, store, self.api, self.bot, self.vault)
        twin.keys = self.keys
        return twin

    def watcher(
        self, replica: str = "replica-a", lease_ttl: timedelta = timedelta(seconds=60)
    ) -> AlertWatcher:
        return AlertWatcher(
            self.store,
            self.accounts,
            self.catalog,
            self.notifier,
            replica_id=replica,
            health=Health(),
            lease_ttl=lease_ttl,
        )

    async def link(self, user_id: int, *, balance_cents: int = 1000) -> FakeUser:
        """A user who wrote to the bot, with a funded sandbox key linked."""
        key = self.sandbox.create_account(balance_cents=balance_cents)
        self.keys[user_id] = key
        await self.store.ensure_user(user_id, "en")
        await self.accounts.link(user_id, key)
        user = self.telegram.user(user_id, first_name=f"User{user_id}", language_code="en")
        await user.send("/start")
        return user

    def offers(self, service: str = "tg") -> list[tuple[int, int, int]]:
        """The sandbox's (country id, price, stock) of ``service``, cheapest first."""
        catalogue = self.sandbox.engine.catalogue
        found = catalogue.service(service)
        assert found is not None
        return sorted(
            ((o.country_id, o.price_cents, o.stock) for o in catalogue.offers(found)),
            key=lambda o: (o[1], o[0]),
        )

    def in_stock(self, service: str = "tg") -> list[int]:
        return [country for country, _, stock in self.offers(service) if stock > 0]

    def prices_reads(self) -> int:
        """``GET /v1/prices`` requests the sandbox has seen."""
        return sum(1 for r in self.sandbox.request_log if r.path.endswith("/v1/prices"))


@asynccontextmanager
async def world_at(tmp_path: Path, database_url: str | None = None) -> AsyncIterator[World]:
    """The parts, with the store on SQLite in ``tmp_path`` or on PostgreSQL at the URL."""
    async with SandboxServer(SandboxConfig(sms_delay=None)) as sandbox:
        telegram = FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot")
        await telegram.start()
        store = await open_store(database_url, tmp_path)
        api = JiemaClient(sandbox.base_url, timeout=5.0)
        settings = Settings(telegram_token=telegram.token, telegram_api_url=telegram.root)
        bot = build_bot(settings, Metrics())
        await bot.initialize()
        try:
            yield World(sandbox, telegram, store, api, bot, KeyVault.from_secret(generate_secret()))
        finally:
            await bot.shutdown()
            await api.aclose()
            await store.close()
            await telegram.stop()
