"""The Mini App's HTTP side, wired into the process's aiohttp application.

:func:`setup_webapp` adds the JSON API under ``<prefix>/api/`` (:mod:`bot.webapp.routes`),
the live order stream (:mod:`bot.webapp.stream`) and the page (:mod:`bot.webapp.static`).
Nothing of the user's key, and nothing of another user, is ever rendered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.services.miniapp import MiniApp, Services
from bot.webapp.auth import DEFAULT_MAX_AGE, InitDataValidator
from bot.webapp.routes import WebApp
from bot.webapp.static import add_page
from bot.webapp.stream import LiveStream


@dataclass(frozen=True, slots=True)
class WebAppConfig:
    """Knobs of the page's server side (defaults are the production ones).

    Attributes:
        prefix: URL path of the page; the API is ``<prefix>/api/``.
        max_age: Seconds an ``initData`` is accepted after its ``auth_date``.
        watch_interval: Seconds between two reads of the database for the live stream.
        heartbeat: Seconds of silence after which the stream sends a comment.
        stream_max: Seconds one stream stays open (the page's EventSource reconnects).
        history_page: Orders per page of the history.
    """

    prefix: str = "/app"
    max_age: float = DEFAULT_MAX_AGE
    watch_interval: float = 0.4
    heartbeat: float = 15.0
    stream_max: float = 600.0
    history_page: int = 10


def setup_webapp(
    app: web.Application,
    services: Services,
    bot_token: str,
    config: WebAppConfig | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> WebApp:
    """Add the page, its API and the live stream to the process's aiohttp application.

    Args:
        app: The one HTTP server of the process.
        services: The chat's services (users, accounts, browse, purchases, orders, …).
        bot_token: Signs ``initData``; never sent anywhere.
        config: Path prefix, ``initData`` age limit, live stream timings.
        clock: Wall clock (Unix seconds) for ``auth_date`` checks.
    """
    config = config or WebAppConfig()
    mini_app = MiniApp(services)
    validator = InitDataValidator(bot_token, max_age=config.max_age, clock=clock)
    web_app = WebApp(mini_app, validator, history_page=config.history_page, clock=clock)
    stream = LiveStream(
        mini_app,
        validator,
        interval=config.watch_interval,
        heartbeat=config.heartbeat,
        max_duration=config.stream_max,
    )
    api = f"{config.prefix}/api"
    web_app.add_routes(app.router, api)
    app.router.add_get(f"{api}/orders/{{order_id}}/events", stream.events)
    app.on_shutdown.append(stream.close)
    add_page(app.router, config.prefix)
    return web_app
