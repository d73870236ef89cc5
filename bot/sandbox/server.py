"""The sandbox server: the API and its test controls on one loopback HTTP port."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.sandbox.api import API_PREFIX, ApiGateway, Sleep, error_response
from bot.sandbox.catalogue import build_catalogue
from bot.sandbox.clock import Clock
from bot.sandbox.config import SandboxConfig
from bot.sandbox.control import CONTROL_PREFIX, add_control_routes
from bot.sandbox.engine import (
    DEFAULT_BALANCE_CENTS,
    DEFAULT_DISPLAY_NAME,
    DEFAULT_LANG,
    ApiError,
    DeliveryMode,
    Engine,
)
from bot.sandbox.faults import Fault, FaultKind, FaultPlan, Latency
from bot.sandbox.ratelimit import Bucket, SlidingWindowLimiter
from bot.sandbox.stats import RequestLog
from bot.sandbox.wire import order_json, order_snapshot_json

# How long stop() lets in-flight requests finish (e.g. one held by a
# ``timeout`` fault) before cancelling them.
_SHUTDOWN_GRACE = 0.25


class SandboxServer:
    """A fake jiema.my API on loopback, with controls for tests.

    Usage::

        server = SandboxServer(SandboxConfig(sms_delay=5), clock=manual_clock)
        base_url = await server.start()  # "http://127.0.0.1:PORT/api"
        key = server.create_account(balance_cents=2500)
        ...
        await server.stop()

    Every control of ``/_sandbox`` is also a method here. Methods that refuse
    raise :class:`~bot.sandbox.engine.ApiError`.

    Attributes:
        config: The start-up settings.
        engine: Accounts and orders.
        request_log: Every API request seen, in arrival order.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config or SandboxConfig()
        self.engine = Engine(self.config, build_catalogue(self.config.seed), clock)
        self.request_log = RequestLog()
        self._limiter = SlidingWindowLimiter(
            self.config.rate_window,
            {Bucket.READ: self.config.read_limit, Bucket.WRITE: self.config.write_limit},
            clock,
        )
        self._faults = FaultPlan()
        self._latency = Latency()
        self._gateway = ApiGateway(
            self.engine,
            self._limiter,
            self._faults,
            self._latency,
            self.request_log,
            clock,
            self.config.hang_seconds,
            sleep,
        )
        self._runner: web.AppRunner | None = None
        self._origin: str | None = None

    # Life cycle.

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Starts serving (port 0: any free port) and returns the API's base URL."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        app = web.Application(middlewares=[self._route_errors])
        self._gateway.add_routes(app)
        add_control_routes(app, self)
        # handler_cancellation: a request whose client went away (e.g. one held
        # by a ``timeout`` fault) stops instead of running on.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_GRACE
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._origin = f"http://{_url_host(bound_host)}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Stops serving; in-flight requests get a short grace period."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/api``, the base URL a client of the API uses."""
        return self._require_origin() + API_PREFIX

    @property
    def control_url(self) -> str:
        """``http://HOST:PORT/_sandbox``, the root of the test controls."""
        return self._require_origin() + CONTROL_PREFIX

    # Accounts.

    def create_account(
        self,
        key: str | None = None,
        *,
        balance_cents: int = DEFAULT_BALANCE_CENTS,
        display_name: str = DEFAULT_DISPLAY_NAME,
        lang: str = DEFAULT_LANG,
        banned: bool = False,
    ) -> str:
        """Creates an account and returns its API key (a new ``jm_`` key if none given)."""
        new_key, _ = self.engine.create_account(
            key, balance_cents=balance_cents, display_name=display_name, lang=lang, banned=banned
        )
        return new_key

    def account_id(self, key: str) -> str:
        """The id of the account a key belongs to."""
        return self.engine.account_of_key(key).id

    def revoke_key(self, key: str) -> None:
        """Revokes a key: it is refused with AUTH_INVALID from now on."""
        self.engine.revoke(key)

    def set_balance(self, key: str, cents: int) -> None:
        """Sets the balance of a key's account."""
        _check(cents >= 0, "the balance must not be negative.")
        self.engine.account_of_key(key).balance_cents = cents

    # Orders.

    def orders(self, key: str) -> list[dict[str, Any]]:
        """Every order of a key's account, newest first, as the API shows it now."""
        return [
            order_json(view) for view in self.engine.current_orders(self.engine.account_of_key(key))
        ]

    def deliver_sms(self, order_id: str, body: str | None = None) -> dict[str, Any]:
        """Delivers an SMS to an active order now; returns the order as the API shows it."""
        return order_json(self.engine.deliver_sms(order_id, body))

    def expire(self, order_id: str) -> dict[str, Any]:
        """Makes an active order expire now; returns the order as the API shows it."""
        return order_json(self.engine.expire(order_id))

    def fail(self, order_id: str) -> dict[str, Any]:
        """Ends an active order as FAILED; returns the order as the API shows it."""
        return order_json(self.engine.fail(order_id))

    def order_snapshot(self, order_id: str) -> dict[str, Any]:
        """The whole truth about an order, with POSIX times (e.g. each SMS's arrival)."""
        return order_snapshot_json(self.engine.order(order_id))

    def set_stock(self, service: str, country: int | str, count: int) -> None:
        """Sets how many numbers of a service are left in a country it is sold in."""
        _check(count >= 0, "count must not be negative.")
        self.engine.set_stock(service, country, count)

    def set_price(self, service: str, country: int | str, cents: int) -> None:
        """Sets a service's price in a country (the next create charges it)."""
        _check(cents >= 0, "cents must not be negative.")
        self.engine.set_price(service, country, cents)

    def set_delivery(self, country: int | str, mode: str) -> None:
        """Makes a country's next numbers get their SMS normally, slowly or never."""
        found = self.engine.catalogue.country(country)
        if found is None:
            raise ApiError(404, "NOT_FOUND", "No such country.")
        _check(mode in ("normal", "slow", "never"), "mode must be normal, slow or never.")
        self.engine.set_delivery(found.id, cast(DeliveryMode, mode))

    # Trouble.

    def inject_fault(
        self,
        kind: FaultKind | str,
        count: int = 1,
        path: str | None = None,
        key: str | None = None,
        *,
        seconds: float | None = None,
    ) -> None:
        """Makes the next ``count`` matching API requests misbehave (see :class:`FaultKind`).

        Args:
            kind: What the fault does.
            count: How many requests it hits.
            path: Only requests whose path contains this.
            key: Only requests with this API key.
            seconds: For ``timeout``: how long to hold the answer, instead of
                the configured ``hang_seconds``.
        """
        try:
            fault_kind = FaultKind(kind)
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", f"Unknown fault kind {kind!r}.") from None
        _check(count >= 1, "count must be at least 1.")
        _check(seconds is None or seconds >= 0, "seconds must not be negative.")
        self._faults.add(Fault(fault_kind, count, path, key, seconds))

    def set_latency(self, seconds: float, key: str | None = None) -> None:
        """Delays every API answer (of one key, or of all) by ``seconds``."""
        _check(seconds >= 0, "seconds must not be negative.")
        self._latency.set(seconds, key)

    def set_list_lag(self, seconds: float) -> None:
        """Makes the order list show orders as they were ``seconds`` ago."""
        _check(seconds >= 0, "seconds must not be negative.")
        self.engine.list_lag = seconds

    def set_rate_window(
        self, seconds: float, *, read_limit: int | None = None, write_limit: int | None = None
    ) -> None:
        """Changes the rate-limit window, and optionally the limits."""
        _check(seconds > 0, "seconds must be positive.")
        _check(all(n is None or n >= 1 for n in (read_limit, write_limit)), "limits must be ≥ 1.")
        self._limiter.window = seconds
        if read_limit is not None:
            self._limiter.limits[Bucket.READ] = read_limit
        if write_limit is not None:
            self._limiter.limits[Bucket.WRITE] = write_limit

    # Observation.

    def stats(self) -> dict[str, Any]:
        """Requests per key fingerprint and bucket, and 429 counts (see :class:`RequestLog`)."""
        return self.request_log.summary()

    # Internals.

    @web.middleware
    async def _route_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answers unknown routes and control errors with the API's error body."""
        if request.match_info.http_exception is not None:
            if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
                return await self._gateway.serve_unknown_route(request)
            return error_response(ApiError(404, "NOT_FOUND", f"No route {request.path}."))
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)

    def _require_origin(self) -> str:
        if self._origin is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self._origin


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ApiError(400, "BAD_REQUEST", message)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
