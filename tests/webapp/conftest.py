"""The Mini App over the real parts: sandbox jiema API, SQLite store, client, vault, tracker.

Until the process's one HTTP server (bot/http.py) is on main, the fixture runs an aiohttp
application of its own with only :func:`setup_webapp`'s routes. Orders move forward the way
the poller moves them: a loop reads each active order from the API with its owner's key and
hands it to the real :class:`OrderTracker`, whose chat side here records what it would send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page

from bot.api import JiemaClient, Sms
from bot.api.errors import JiemaError
from bot.outbox import Outbox
from bot.sandbox import SandboxConfig, SandboxServer
from bot.services.accounts import AccountService, NotLinkedError
from bot.services.after_purchase import AfterPurchaseService
from bot.services.alerts import AlertService
from bot.services.browse import BrowseService
from bot.services.catalog import Catalog
from bot.services.favourites import FavouriteService
from bot.services.orders import OrderService
from bot.services.purchases import PurchaseService
from bot.services.rates import DeliveryRates
from bot.services.replacement import ReplacementService, ReplaceRules
from bot.services.topup import TopUpService
from bot.services.users import UserService
from bot.store import Store, StoredOrder
from bot.telegram_outcome import Outcome, Sent
from bot.tracker import OrderTracker
from bot.vault import KeyVault, generate_secret
from bot.webapp.api import Mounted, WebAppConfig, setup_webapp
from tests.browser import chromium
from tests.webapp.initdata import TOKEN, init_data

SCREENSHOTS = Path(__file__).parent / "screenshots"
ALICE, BOB = 1001, 2002

LIGHT = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#707579",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f1f1f4",
}
DARK = {
    "bg_color": "#212121",
    "text_color": "#ffffff",
    "hint_color": "#aaaaaa",
    "link_color": "#8774e1",
    "button_color": "#8774e1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#181818",
    "section_bg_color": "#212121",
    "header_bg_color": "#212121",
}


@dataclass
class ChatSide:
    """The tracker's notifier: what the chat would get (codes pushed, cards shown)."""

    codes: list[tuple[str, str]] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)

    async def push_code(self, order: StoredOrder, sms: Sms) -> Outcome[int] | None:
        self.codes.append((order.id, sms.body))
        return Sent(len(self.codes))

    async def show_card(self, order: StoredOrder, *, now: bool = False) -> None:
        self.cards.append(order.id)

    async def post_card(self, order: StoredOrder) -> int | None:
        self.cards.append(order.id)
        return None

    async def tell_final(self, order: StoredOrder) -> Outcome[int] | None:
        return Sent(0)


@dataclass
class Services:
    store: Store
    users: UserService
    accounts: AccountService
    rates: DeliveryRates
    browse: BrowseService
    purchases: PurchaseService
    orders: OrderService
    tracker: OrderTracker
    favourites: FavouriteService
    alerts: AlertService
    replacement: ReplacementService
    after_purchase: AfterPurchaseService


@dataclass
class Shop:
    """A running Mini App and its world."""

    url: str
    sandbox: SandboxServer
    services: Services
    chat: ChatSide
    keys: dict[int, str]
    api: JiemaClient
    catalog: Catalog
    mounted: Mounted

    def launch_url(
        self,
        user_id: int = ALICE,
        *,
        theme: dict[str, str] | None = None,
        language: str = "en",
        auth_date: int | None = None,
        raw: str | None = None,
    ) -> str:
        """The page's URL with Telegram's launch parameters in the fragment."""
        data = raw or init_data(user_id, auth_date or int(time.time()), language_code=language)
        params = {
            "tgWebAppData": data,
            "tgWebAppVersion": "8.0",
            "tgWebAppPlatform": "tdesktop",
            "tgWebAppThemeParams": json.dumps(theme or LIGHT),
        }
        fragment = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        return f"{self.url}/app/#{fragment}"

    def auth(self, user_id: int = ALICE, language: str = "en") -> dict[str, str]:
        return {
            "Authorization": "tma " + init_data(user_id, int(time.time()), language_code=language)
        }


async def _poll(services: Services, api: JiemaClient, stop: asyncio.Event) -> None:
    """What the poller does for each active order, every 0.3 s (bounded by the test)."""
    while not stop.is_set():
        for order in await services.store.active_orders():
            try:
                key = await services.accounts.key_for(order.user_id)
                fresh = await api.order(key, order.id)
            except (JiemaError, NotLinkedError):
                continue
            await services.tracker.apply(order, fresh)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.3)


GENEROUS = WebAppConfig(watch_interval=0.2, heartbeat=2.0, history_page=2, rate=1000.0, burst=1000)
"""The tests' page server: quick live streams, short history pages, no request limit to hit
(the limits have their own tests, with their own settings)."""


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client for the Mini App's API, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@contextlib.asynccontextmanager
async def running_shop(tmp_path: Path, config: WebAppConfig = GENEROUS) -> AsyncIterator[Shop]:
    """A sandbox, a store, the services and the Mini App's server under ``config``."""
    async with SandboxServer(SandboxConfig(sms_delay=None)) as sandbox:
        store = await Store.open(tmp_path / "bot.sqlite3")
        api = JiemaClient(sandbox.base_url, timeout=5.0)
        accounts = AccountService(api, store, KeyVault.from_secret(generate_secret()))
        catalog = Catalog(api)
        chat = ChatSide()
        outbox = Outbox(store, chat)
        rates = DeliveryRates(store)
        tracker = OrderTracker(store, chat, outbox, rates=rates)
        purchases = PurchaseService(api, store, accounts, catalog, rates=rates)
        favourites = FavouriteService(accounts, catalog, store)
        alerts = AlertService(accounts, catalog, store, rates=rates, lifetime=timedelta(hours=24))
        services = Services(
            store=store,
            users=UserService(store),
            accounts=accounts,
            rates=rates,
            browse=BrowseService(accounts, catalog, store, rates, favourites),
            purchases=purchases,
            orders=OrderService(api, store, accounts, catalog, tracker, chat),
            tracker=tracker,
            favourites=favourites,
            alerts=alerts,
            replacement=ReplacementService(
                api,
                store,
                accounts,
                catalog,
                purchases,
                tracker,
                chat,
                rates,
                rules=ReplaceRules(),
                replica_id="webapp-test",
            ),
            after_purchase=AfterPurchaseService(
                purchases, chat, TopUpService(accounts, store), alerts
            ),
        )
        keys = {}
        for user_id, language in ((ALICE, "en"), (BOB, "en")):
            keys[user_id] = sandbox.create_account(balance_cents=1000)
            await store.ensure_user(user_id, language)
            await accounts.link(user_id, keys[user_id])
        app = web.Application()
        mounted = setup_webapp(app, services, TOKEN, config)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll(services, api, stop))
        try:
            url = f"http://127.0.0.1:{port}"
            yield Shop(url, sandbox, services, chat, keys, api, catalog, mounted)
        finally:
            stop.set()
            await poller
            await outbox.stop()
            await runner.cleanup()
            await api.aclose()
            await store.close()


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with running_shop(tmp_path) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A phone-sized page (as in Telegram's mobile clients)."""
    context = await browser.new_context(viewport={"width": 390, "height": 760}, locale="en-US")
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield await context.new_page()
    await context.close()


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


class Reads:
    """Counts the store's reads of one order by its owner (what every watcher round does)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original: Callable[[Store, int, str], Awaitable[StoredOrder | None]]
        original = Store.get_user_order

        async def counted(store: Store, user_id: int, order_id: str) -> StoredOrder | None:
            self.count += 1
            return await original(store, user_id, order_id)

        monkeypatch.setattr(Store, "get_user_order", counted)


def stored_codes(chat: ChatSide, order_id: str) -> list[str]:
    return [body for oid, body in chat.codes if oid == order_id]


Json = dict[str, Any]
