"""Building the Telegram side: the bot object and the PTB ``Application`` with its handlers.

The bot object is built first (the services need it to send codes); the application is
built around it once the services exist, and gets them in ``bot_data`` before it starts.
No conversation state is kept by PTB: it lives in the database (see ``bot.services.users``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

import httpx
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode, UpdateType
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, Defaults, ExtBot
from telegram.request import HTTPXRequest

from bot.api.transport import Client, Transport
from bot.config import Settings
from bot.context import BotData, Context
from bot.core import Services
from bot.handlers import register
from bot.metrics import Metrics
from bot.ratelimit import ChatRateLimiter, SendPolicy
from bot.updates import PerUserUpdateProcessor

BotApplication = Application[Any, Context, Any, Any, BotData, Any]

ALLOWED_UPDATES: Final = [
    UpdateType.MESSAGE,
    UpdateType.EDITED_MESSAGE,
    UpdateType.CALLBACK_QUERY,
    UpdateType.MY_CHAT_MEMBER,
]
"""The update kinds the handlers use; Telegram sends no others (polling and webhook)."""


class MeteredRequest(HTTPXRequest):
    """PTB's httpx request on aiohttp's transport (:mod:`bot.api.transport`), counting every
    Bot API call by method and error for /metrics."""

    def __init__(self, metrics: Metrics, *, connection_pool_size: int, **kwargs: Any) -> None:
        self._pool = connection_pool_size
        super().__init__(connection_pool_size=connection_pool_size, **kwargs)
        self._metrics = metrics

    def _build_client(self) -> httpx.AsyncClient:
        # A new transport each time: PTB builds a new client after a shutdown, and a closed
        # transport cannot be opened again.
        return Client(**{**self._client_kwargs, "transport": Transport(max_connections=self._pool)})

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        try:
            code, payload = await super().do_request(url, method, *args, **kwargs)
        except TelegramError as exc:
            self._metrics.telegram_calls.labels(endpoint, type(exc).__name__).inc()
            raise
        error = "" if code == HTTPStatus.OK else str(code)
        self._metrics.telegram_calls.labels(endpoint, error).inc()
        return code, payload


def build_bot(settings: Settings, metrics: Metrics) -> ExtBot[SendPolicy]:
    """The bot object: HTML by default, paced sends, every request bounded by
    ``TELEGRAM_TIMEOUT`` (PTB adds the long-poll timeout to ``getUpdates``' read timeout, so
    a stalled long poll fails and the updater starts a new one)."""
    seconds = settings.telegram_timeout

    def request(pool: int) -> HTTPXRequest:
        return MeteredRequest(
            metrics,
            connection_pool_size=pool,
            connect_timeout=seconds,
            read_timeout=seconds,
            write_timeout=seconds,
            pool_timeout=seconds,
        )

    return ExtBot(
        settings.telegram_token,
        base_url=settings.bot_base_url,
        base_file_url=settings.bot_file_url,
        request=request(256),
        get_updates_request=request(1),
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
