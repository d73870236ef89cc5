"""The API under ``/api``: routing, auth, rate limits, faults, and the endpoints.

Each API request goes through the same steps, in this order: injected latency,
logging, route (404), auth (401/403), rate limit (429), injected fault, and
the endpoint itself. A request refused at one step is not seen by the later
ones: in particular a fault is only used up by a request that would
otherwise have been served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.sandbox.clock import Clock
from bot.sandbox.engine import Account, ApiError, Engine, OrderStatus
from bot.sandbox.faults import FaultKind, FaultPlan, Latency
from bot.sandbox.ratelimit import Bucket, SlidingWindowLimiter
from bot.sandbox.stats import RequestLog, RequestRecord, key_fingerprint
from bot.sandbox.wire import (
    Json,
    account_json,
    countries_json,
    order_json,
    prices_json,
    services_json,
)

API_PREFIX = "/api"

Endpoint = Callable[[web.Request, Account], Awaitable[Json]]

logger = logging.getLogger(__name__)


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    """The spec's error body: ``{"ok": false, "code": ..., "message": ...}``."""
    body = {"ok": False, "code": error.code, "message": error.message}
    return web.json_response(body, status=error.status, headers=headers)


def api_key(request: web.BaseRequest) -> str | None:
    """The key of a request: ``Authorization: Bearer …``, else ``X-API-Key``.

    Any other ``Authorization`` value is returned as is, so that it is refused
    as an invalid key rather than as a missing one.
    """
    authorization = request.headers.get("Authorization", "").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key", "").strip() or authorization or None


Sleep = Callable[[float], Awaitable[None]]
"""How the API waits out latency and held answers (``asyncio.sleep``; tests record it)."""


class ApiGateway:
    """Serves the API's endpoints on an :class:`Engine`."""

    def __init__(
        self,
        engine: Engine,
        limiter: SlidingWindowLimiter,
        faults: FaultPlan,
        latency: Latency,
        log: RequestLog,
        clock: Clock,
        hang_seconds: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._engine = engine
        self._limiter = limiter
        self._faults = faults
        self._latency = latency
        self._log = log
        self._clock = clock
        self._hang_seconds = hang_seconds
        self._sleep = sleep

    def add_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Bucket, Endpoint]] = [
            ("GET", "/v1/account", Bucket.READ, self._account),
            ("GET", "/v1/services", Bucket.READ, self._services),
            ("GET", "/v1/countries", Bucket.READ, self._countries),
            ("GET", "/v1/prices", Bucket.READ, self._prices),
            ("POST", "/v1/orders", Bucket.WRITE, self._create),
            ("GET", "/v1/orders", Bucket.READ, self._list),
            ("GET", "/v1/orders/{id}", Bucket.READ, self._get),
            ("POST", "/v1/orders/{id}/cancel", Bucket.WRITE, self._cancel),
            ("POST", "/v1/orders/{id}/next-sms", Bucket.WRITE, self._next_sms),
        ]
        for method, path, bucket, endpoint in routes:
            app.router.add_route(method, API_PREFIX + path, self._handler(bucket, endpoint))

    async def serve_unknown_route(self, request: web.Request) -> web.StreamResponse:
        """Answers a request under ``/api`` that matches no endpoint (404)."""
        return await self._serve(request, None, None)

    def _handler(self, bucket: Bucket, endpoint: Endpoint) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, bucket, endpoint)

        return handle

    async def _serve(
        self, request: web.Request, bucket: Bucket | None, endpoint: Endpoint | None
    ) -> web.StreamResponse:
        key = api_key(request)
        delay = self._latency.for_key(key)
        if delay > 0:
            await self._sleep(delay)
        record = RequestRecord(
            at=self._clock(),
            key_fp=key_fingerprint(key) if key else None,
            method=request.method,
            path=request.path,
            bucket=bucket,
        )
        self._log.append(record)
        try:
            response = await self._respond(request, key, bucket, endpoint)
        except ApiError as error:
            response = error_response(error)
        except Exception:
            logger.exception("Sandbox endpoint %s %s failed", request.method, request.path)
            response = error_response(ApiError(500, "INTERNAL", "Internal server error."))
        if response is None:
            # The connection is already closed: this answer is never sent.
            return web.Response()
        record.status = response.status
        return response

    async def _respond(
        self,
        request: web.Request,
        key: str | None,
        bucket: Bucket | None,
        endpoint: Endpoint | None,
    ) -> web.Response | None:
        """Runs the request's steps; ``None`` when its connection was dropped."""
        if bucket is None or endpoint is None:
            raise ApiError(404, "NOT_FOUND", f"No endpoint {request.method} {request.path}.")
        account = self._engine.authenticate(key)
        assert key is not None  # authenticate() refused a missing key.
        wait = self._limiter.acquire(key, bucket)
        if wait is not None:
            error = ApiError(429, "RATE_LIMITED", f"Too many requests: retry in {wait} s.")
            return error_response(error, headers={"Retry-After": str(wait)})
        fault = self._faults.take(request.path, key, is_create=endpoint == self._create)
        if fault is not None and fault.kind is FaultKind.ERROR500:
            raise ApiError(500, "INTERNAL", "Internal server error (injected).")
        if fault is not None and fault.kind is FaultKind.UNKNOWN_ERROR:
            raise ApiError(400, "QUOTA_PAUSED", "<b>Paused</b> & resumes <soon>.")
        try:
            data = await endpoint(request, account)
            if fault is not None and fault.kind is FaultKind.UNKNOWN_STATUS and "status" in data:
                data = {**data, "status": "ON_HOLD"}
            elif fault is not None and fault.kind is FaultKind.MISSING_FIELDS:
                data = {}
            response = web.json_response({"ok": True, "data": data})
        except ApiError as error:
            response = error_response(error)
        if fault is None:
            return response
        if fault.kind is FaultKind.TIMEOUT:
            await self._sleep(self._hang_seconds if fault.seconds is None else fault.seconds)
        elif fault.kind is FaultKind.MALFORMED:
            body = response.body
            assert isinstance(body, bytes)  # json_response bodies are bytes
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        elif fault.kind is FaultKind.DROP_CREATE:
            if request.transport is not None:
                request.transport.close()
            return None
        return response

    # Endpoints: each returns the ``data`` of a successful answer.

    async def _account(self, request: web.Request, account: Account) -> Json:
        return account_json(self._engine.synced(account))

    async def _services(self, request: web.Request, account: Account) -> Json:
        return services_json(self._engine.catalogue)

    async def _countries(self, request: web.Request, account: Account) -> Json:
        return countries_json(self._engine.catalogue)

    async def _prices(self, request: web.Request, account: Account) -> Json:
        ident = request.query.get("service", "").strip()
        if not ident:
            raise ApiError(400, "BAD_REQUEST", "The service query parameter is required.")
        service = self._engine.catalogue.service(ident)
        if service is None:
            raise ApiError(400, "BAD_SERVICE", f"Unknown service {ident!r}.")
        return prices_json(self._engine.catalogue, service)

    async def _create(self, request: web.Request, account: Account) -> Json:
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "The body must be JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "BAD_REQUEST", "The body must be a JSON object.")
        service, country = body.get("service"), body.get("country")
        if not isinstance(service, str) or not service.strip():
            raise ApiError(400, "BAD_REQUEST", "service is required (a code or slug).")
        if isinstance(country, bool) or not isinstance(country, int | str) or country == "":
            raise ApiError(400, "BAD_REQUEST", "country is required (an id or slug).")
        return order_json(self._engine.create_order(account, service, country))

    async def _list(self, request: web.Request, account: Account) -> Json:
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "limit must be an integer.") from None
        if not 1 <= limit <= 100:
            raise ApiError(400, "BAD_REQUEST", "limit must be between 1 and 100.")
        status = None
        if status_text := request.query.get("status"):
            try:
                status = OrderStatus(status_text.upper())
            except ValueError:
                raise ApiError(400, "BAD_REQUEST", f"Unknown status {status_text!r}.") from None
        cursor = request.query.get("cursor") or None
        page, next_cursor = self._engine.list_orders(
            account, limit=limit, cursor=cursor, status=status
        )
        return {"items": [order_json(view) for view in page], "nextCursor": next_cursor}

    async def _get(self, request: web.Request, account: Account) -> Json:
        return order_json(self._engine.get_order(account, request.match_info["id"]))

    async def _cancel(self, request: web.Request, account: Account) -> Json:
        return order_json(self._engine.cancel(account, request.match_info["id"]))

    async def _next_sms(self, request: web.Request, account: Account) -> Json:
        return order_json(self._engine.next_sms(account, request.match_info["id"]))
