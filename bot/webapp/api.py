"""The Mini App's HTTP side, wired into the process's aiohttp application.

:func:`setup_webapp` adds the JSON API under ``<prefix>/api/`` (:mod:`bot.webapp.routes`),
the live order stream (:mod:`bot.webapp.stream`) and the page (:mod:`bot.webapp.static`).
Nothing of the user's key, and nothing of another user, is ever rendered. Every request is
admitted first (:mod:`bot.webapp.gate`): ``initData`` from the header, then one of the
user's requests (``rate`` per second, ``burst`` at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.services.miniapp import LiveOrders, MiniApp, Services
from bot.webapp.auth import DEFAULT_MAX_AGE, InitDataValidator
from bot.webapp.gate import Gate
from bot.webapp.limits import UserRateLimiter
from bot.webapp.routes import WebApp
from bot.webapp.static import add_page
from bot.webapp.stream import LiveStream


@dataclass(frozen=True, slots=True)
class WebAppConfig:
    """Knobs of the page's server side (defaults are the production ones).

    Attributes:
        prefix: URL path of the page; the API is ``<prefix>/api/``.
        max_age: Seconds an ``initData`` is accepted after its ``auth_date``.
        watch_interval: Seconds between two reads of a followed order (one watcher per
            order, however many pages follow it).
        heartbeat: Seconds of silence after which the stream sends a comment.
        stream_max: Seconds one stream stays open (the page reconnects).
        history_page: Orders per page of the history.
        rate: Requests per second one user may keep up (``WEBAPP_RATE`` is per minute).
        burst: Requests one user may make at once.
        streams_per_user: Live streams one user may hold; another ends their oldest.
        streams_total: Live streams the process holds at most.
        slot_wait: Seconds a request waits at most for a slot of the user's API budget
            before it is answered "busy, try again in N s".
        refusal_delay: Seconds a request over the user's budget waits for its 429.
    """

    prefix: str = "/app"
    max_age: float = DEFAULT_MAX_AGE
    watch_interval: float = 0.4
    heartbeat: float = 15.0
    stream_max: float = 600.0
    history_page: int = 10
    rate: float = 2.0
    burst: int = 30
    streams_per_user: int = 3
    streams_total: int = 1000
    slot_wait: float = 10.0
    refusal_delay: float = 1.0


@dataclass(frozen=True, slots=True)
class Mounted:
    """What :func:`setup_webapp` added: the API routes and the live streams."""

    api: WebApp
    stream: LiveStream


def setup_webapp(
    app: web.Application,
    services: Services,
    bot_token: str,
    config: WebAppConfig | None = None,
    *,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Mounted:
    """Add the page, its API and the live stream to the process's aiohttp application.

    Args:
        app: The one HTTP server of the process.
        services: The chat's services (users, accounts, browse, purchases, orders, …).
        bot_token: Signs ``initData``; never sent anywhere.
        config: Path prefix, ``initData`` age limit, live stream timings.
        clock: Wall clock (Unix seconds) for ``auth_date`` checks.
        monotonic: Monotonic clock of the request budgets and the live streams.
    """
    config = config or WebAppConfig()
    live = LiveOrders(
        services.orders,
        interval=config.watch_interval,
        heartbeat=config.heartbeat,
        max_duration=config.stream_max,
        per_user=config.streams_per_user,
        total=config.streams_total,
        clock=monotonic,
    )
    mini_app = MiniApp(services, live)
    validator = InitDataValidator(bot_token, max_age=config.max_age, clock=clock)
    limiter = UserRateLimiter(config.rate, config.burst, clock=monotonic)
    gate = Gate(validator, limiter, config.refusal_delay)
    web_app = WebApp(
        mini_app,
        gate,
        history_page=config.history_page,
        slot_wait=config.slot_wait,
        clock=clock,
    )
    stream = LiveStream(mini_app, gate)
    api = f"{config.prefix}/api"
    web_app.add_routes(app.router, api)
    app.router.add_get(f"{api}/orders/{{order_id}}/events", stream.events)
    app.on_shutdown.append(stream.close)
    add_page(app.router, config.prefix)
    return Mounted(web_app, stream)
