"""Building the Application: handlers, services, the poller job, and their lifetimes.

:func:`build_application` wires PTB; ``post_init`` creates the API client and services
and starts the poller, ``post_shutdown`` stops and closes them. The SQLite store is opened
by the caller first because PTB loads persisted conversations before ``post_init`` runs.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, Defaults

from bot.api import JiemaClient
from bot.commands import command_list
from bot.config import Settings
from bot.context import BotData, Context, Services
from bot.handlers import register
from bot.i18n import LANGUAGES, get_translator
from bot.notifier import TelegramNotifier
from bot.poller import Poller
from bot.ratelimit import ChatRateLimiter
from bot.services.accounts import AccountService
from bot.services.catalog import Catalog
from bot.services.orders import OrderService
from bot.services.purchases import PurchaseService
from bot.startup import apply_timeouts
from bot.store import SqlitePersistence, Store
from bot.tracker import OrderTracker
from bot.updates import PerUserUpdateProcessor
from bot.vault import KeyVault, load_or_create_secret

log = logging.getLogger(__name__)

BotApplication = Application[Any, Context, Any, Any, BotData, Any]


def build_application(settings: Settings, store: Store, jiema_url: str) -> BotApplication:
    """The bot, ready for ``initialize``/``post_init``/``start``.

    Args:
        settings: Validated settings.
        store: The open database (conversations are persisted in it).
        jiema_url: Root of the jiema API to use (the sandbox's in sandbox mode).
    """
    application: BotApplication = (
        apply_timeouts(Application.builder(), settings.telegram_timeout)
        .token(settings.telegram_token)
        .base_url(settings.bot_base_url)
        .base_file_url(settings.bot_file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .context_types(ContextTypes(context=Context, bot_data=BotData))
        .persistence(SqlitePersistence(store, update_interval=1.0))
        .rate_limiter(ChatRateLimiter())
        .concurrent_updates(PerUserUpdateProcessor())
        .post_init(_post_init_for(settings, store, jiema_url))
        .post_shutdown(_post_shutdown)
        .build()
    )
    register(application)
    return application


def _post_init_for(settings: Settings, store: Store, jiema_url: str) -> Any:
    async def post_init(application: BotApplication) -> None:
        vault = KeyVault.from_secret(
            settings.secret_key or load_or_create_secret(settings.data_dir)
        )
        api = JiemaClient(
            jiema_url,
            timeout=httpx.Timeout(settings.api_timeout, connect=min(5.0, settings.api_timeout)),
        )
        accounts = AccountService(api, store, vault)
        catalog = Catalog(api)
        purchases = PurchaseService(api, store, accounts, catalog)
        notifier = TelegramNotifier(application.bot, store)
        tracker = OrderTracker(store, notifier, send_timeout=settings.telegram_timeout)
        await tracker.reclaim_own()
        poller = Poller(
            api, store, accounts, tracker, notifier, purchases, interval=settings.poll_interval
        )
        application.bot_data.services = Services(
            settings=settings,
            api=api,
            store=store,
            accounts=accounts,
            catalog=catalog,
            purchases=purchases,
            orders=OrderService(api, store, accounts, catalog),
            notifier=notifier,
            tracker=tracker,
            poller=poller,
        )
        await _set_commands(application)
        assert application.job_queue is not None
        application.job_queue.run_repeating(
            _tick(poller), interval=settings.poll_interval, first=0.0, name="poller"
        )

    return post_init


def _tick(poller: Poller) -> Any:
    async def tick(_: Context) -> None:
        poller.tick()

    return tick


async def _set_commands(application: BotApplication) -> None:
    """The command menu in every language (Telegram picks by the user's app language)."""
    try:
        for language in LANGUAGES:
            commands = [BotCommand(n, d) for n, d in command_list(get_translator(language))]
            code = None if language == "en" else language.split("_")[0]
            await application.bot.set_my_commands(commands, language_code=code)
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)


async def _post_shutdown(application: BotApplication) -> None:
    services = application.bot_data.services
    await services.poller.stop()
    await services.tracker.stop()
    await services.api.aclose()
