"""The bot's HTTP server (``HTTP_LISTEN``): webhook, ``/healthz``, ``/metrics``, Mini App.

With ``METRICS_LISTEN`` set, ``/healthz`` and ``/metrics`` are served on that address only
(keep it internal), and the public one serves the webhook and the Mini App.

Its access log is off: no request needs logging (the Mini App's ``initData`` travels only
in the ``Authorization`` header, never in a URL; the live stream is read with ``fetch()``).

Connections are closed after :data:`IDLE_TIMEOUT` without a complete request, so an idle or
slowly-sent request (its headers trickling in) cannot hold a connection for long.

It starts before Telegram is reached, so ``/healthz`` can say why the bot is not serving
yet. The webhook path answers 503 until the Telegram application is attached (Telegram
retries), and 403 to any request without the configured secret token.

A webhook update is *handled before it is answered*: a 200 for an update that is then lost
(the process dies) would lose it, since Telegram never sends it again. Telegram may deliver
the same update twice (a timeout on its side, or a load balancer retry to another replica),
so each update id is claimed in the database first; a second delivery of an update that is
handled already gets 200 without handling, one still being handled elsewhere gets 503.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot import pressed
from bot.core import Services
from bot.metrics import CONTENT_TYPE_LATEST
from bot.store import StoreUnavailableError
from bot.webapp.api import WebAppConfig, setup_webapp

log = logging.getLogger(__name__)

WEBHOOK_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_WEBHOOK_HEADER_BYTES = WEBHOOK_HEADER.lower().encode("ascii")
IDLE_TIMEOUT = 75.0
"""Seconds a connection may wait for its next complete request (headers included)."""
# A claim older than this belongs to a replica that died mid-update: handle it again.
_STALE_CLAIM = timedelta(seconds=90)


class HttpServer:
    """aiohttp server of one process.

    Args:
        services: The process's services (health, metrics, store, settings).
        idle_timeout: See :data:`IDLE_TIMEOUT` (tests shorten it).
    """

    def __init__(self, services: Services, *, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self._services = services
        self._idle_timeout = idle_timeout
        self._application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._runners: list[web.AppRunner] = []
        self.app = web.Application(client_max_size=1024**2)
        settings = services.settings
        # The operator's endpoints: on their own internal address when one is configured.
        self.internal = self.app if settings.metrics_listen is None else web.Application()
        self.internal.router.add_get("/healthz", self._healthz)
        self.internal.router.add_get("/metrics", self._metrics)
        if settings.webhook_path is not None:
            self.app.router.add_post(settings.webhook_path, self._webhook)
        if settings.webapp_url is not None:
            prefix = urlsplit(settings.webapp_url).path.rstrip("/")
            config = WebAppConfig(
                prefix=prefix,
                max_age=settings.webapp_max_age,
                rate=settings.webapp_rate / 60,
                burst=settings.webapp_burst,
                streams_per_user=settings.webapp_streams,
            )
            setup_webapp(self.app, services, settings.telegram_token, config)

    def attach(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Start handing webhook updates to ``application`` (it must be initialized)."""
        self._application = application

    async def start(self) -> str:
        """Listen on ``HTTP_LISTEN`` (and ``METRICS_LISTEN``); returns the first as a URL."""
        settings = self._services.settings
        address = await self._listen(self.app, settings.http_host, settings.http_port)
        if settings.metrics_listen is None:
            log.info("HTTP server on %s (/healthz, /metrics)", address)
        else:
            internal = await self._listen(self.internal, *settings.metrics_listen)
            log.info("HTTP server on %s, /healthz and /metrics on %s", address, internal)
        return address

    async def _listen(self, app: web.Application, host: str, port: int) -> str:
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, keepalive_timeout=self._idle_timeout
        )
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, host, port).start()
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def _healthz(self, _: web.Request) -> web.Response:
        report = await self._services.health.check()
        body = {"ok": report.healthy, "problems": report.problems}
        return web.json_response(body, status=200 if report.healthy else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(
            body=self._services.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        secret = (self._services.settings.webhook_secret or "").encode("ascii")
        # Compared as the bytes received: a header that is not valid UTF-8 is just wrong.
        given = next((v for k, v in request.raw_headers if k.lower() == _WEBHOOK_HEADER_BYTES), b"")
        if not secret or not hmac.compare_digest(given, secret):
            log.warning("webhook request without the right secret token refused")
            return web.Response(status=403, text="forbidden")
        application = self._application
        if application is None:
            return web.Response(status=503, text="starting")
        try:
            data = json.loads(await request.read())
            pressed.defer_keyboard(data)
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not an update")
        store = self._services.store
        try:
            claim = await store.claim_update(
                update.update_id, self._services.replica_id, _STALE_CLAIM
            )
            if claim == "done":
                return web.Response(text="ok")
            if claim == "busy":
                return web.Response(status=503, text="being handled")
            await application.update_processor.process_update(
                update, application.process_update(update)
            )
            await store.finish_update(update.update_id)
        except StoreUnavailableError:
            return web.Response(status=503, text="database unavailable")
        return web.Response(text="ok")
