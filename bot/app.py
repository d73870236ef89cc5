"""Building the Telegram side: the bot object and the PTB ``Application`` with its handlers.

The bot object is built first (the services need it to send codes); the application is
built around it once the services exist, and gets them in ``bot_data`` before it starts.
No conversation state is kept by PTB: it lives in the database (see ``bot.services.users``).
"""

from __future__ import annotations

from typing import Any, Final

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode, UpdateType
from telegram.ext import Application, ContextTypes, Defaults, ExtBot

from bot.config import Settings
from bot.context import BotData, Context
from bot.core import Services
from bot.handlers import register
from bot.metrics import Metrics
from bot.ratelimit import ChatRateLimiter, SendPolicy
from bot.telegram_request import SendingRequest, TelegramRequest
from bot.updates import PerUserUpdateProcessor

BotApplication = Application[Any, Context, Any, Any, BotData, Any]

ALLOWED_UPDATES: Final = [
    UpdateType.MESSAGE,
    UpdateType.EDITED_MESSAGE,
    UpdateType.CALLBACK_QUERY,
    UpdateType.MY_CHAT_MEMBER,
]
"""The update kinds the handlers use; Telegram sends no others (polling and webhook)."""


def build_bot(settings: Settings, metrics: Metrics) -> ExtBot[SendPolicy]:
    """The bot object: HTML by default, paced sends, every request bounded by
    ``TELEGRAM_TIMEOUT`` (PTB adds the long-poll timeout to ``getUpdates``' read timeout, so
    a stalled long poll fails and the updater starts a new one)."""
    seconds = settings.telegram_timeout

    return ExtBot(
        settings.telegram_token,
        base_url=settings.bot_base_url,
        base_file_url=settings.bot_file_url,
        request=SendingRequest(metrics, connection_pool_size=256, timeout=seconds),
        get_updates_request=TelegramRequest(metrics, connection_pool_size=1, timeout=seconds),
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        rate_limiter=ChatRateLimiter(),
    )


def build_application(services: Services, bot: ExtBot[SendPolicy]) -> BotApplication:
    """The PTB application around ``bot``, with every handler and the services in bot_data."""
    processor = PerUserUpdateProcessor(services.store, services.replica_id, services.metrics)
    application: BotApplication = (
        Application.builder()
        .bot(bot)
        .context_types(ContextTypes(context=Context, bot_data=BotData))
        .concurrent_updates(processor)
        .job_queue(None)
        .build()
    )
    application.bot_data.services = services
    register(application)
    return application
