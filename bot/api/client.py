"""Async client for the jiema.my REST API (``../shared/jiema-api.md``).

One :class:`JiemaClient` serves every user: it owns one httpx connection pool and takes the
user's :class:`~bot.api.models.ApiKey` per call. Policies, all in this one place:

* every request waits for a slot of the per-key limiter (:mod:`bot.api.limiter`), so the
  bot stays under the API's limits instead of learning them from 429s;
* idempotent GETs are retried on timeouts, connection errors, 408/409/429 and 5xx, with
  capped exponential backoff and full jitter, honouring ``Retry-After``;
* POSTs are never retried: ``POST /v1/orders`` carries no idempotency key, so a lost answer
  surfaces as :class:`~bot.api.errors.TransportError` and the caller reconciles;
* the key goes only into the ``Authorization`` header, never into a log, repr or error.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from bot.api.errors import (
    ApiError,
    ApiTimeoutError,
    JiemaError,
    MalformedResponseError,
    RateLimitedError,
    ServerError,
    TransportError,
    error_for,
)
from bot.api.limiter import Bucket, KeyRateLimiter, Priority, RateLimits
from bot.api.models import (
    Account,
    ApiKey,
    Country,
    Order,
    OrderPage,
    Price,
    Service,
    listed_orders,
    parse_items,
)
from bot.api.transport import Transport

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_ORDER_ID = re.compile(r"v1/orders/[^/]+")
_HEADERS = {"Accept": "application/json", "User-Agent": "jiema-telegram-bot"}
_URLS_KEPT = 10_000
"""Parsed request URLs remembered at most (about one per watched order; least recent first)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How idempotent reads are retried.

    Attributes:
        attempts: Total tries, the first included.
        base_delay: First backoff, doubled each retry, capped at ``max_delay``.
        max_delay: Longest wait between tries, and the longest ``Retry-After`` honoured
            silently; a longer one is raised to the caller as ``RateLimitedError``.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def backoff(self, retry: int) -> float:
        """Full-jitter delay before retry number ``retry`` (1-based)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class JiemaClient:
    """The jiema API, typed. Use as an async context manager or call :meth:`aclose`.

    Args:
        base_url: API root, e.g. ``https://jiema.my/api``.
        limits: Per-key rate limits enforced before sending.
        retry: Retry policy for GETs.
        timeout: httpx timeout for every request.
        transport: The httpx transport; by default aiohttp's (:mod:`bot.api.transport`).
        sleep: Awaitable sleep used between retries (injectable for tests).
        observe: Called after every request with its method, endpoint template
            (``v1/orders/:id``) and HTTP status, or the exception's name when none came back
            (metrics; it never sees the key).
    """

    def __init__(
        self,
        base_url: str,
        *,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        observe: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self._observe = observe
        self._base = httpx.URL(base_url.rstrip("/") + "/")
        self._transport = transport or Transport(max_connections=100)
        self._timeout = {"timeout": httpx.Timeout(timeout).as_dict()}
        self.limiter = KeyRateLimiter(limits or RateLimits())
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._absolute = functools.lru_cache(maxsize=_URLS_KEPT)(self._join)

    async def __aenter__(self) -> JiemaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._transport.aclose()

    # -- endpoints -------------------------------------------------------------------------

    async def account(self, key: ApiKey, *, priority: Priority = Priority.INTERACTIVE) -> Account:
        """``GET /v1/account``: balance and profile; also how a key is validated."""
        return Account.from_api(await self._get(key, "v1/account", priority=priority))

    async def services(self, key: ApiKey) -> list[Service]:
        """``GET /v1/services``."""
        data = await self._get(key, "v1/services")
        return [Service.from_api(item) for item in parse_items(data)]

    async def countries(
        self, key: ApiKey, *, priority: Priority = Priority.INTERACTIVE
    ) -> list[Country]:
        """``GET /v1/countries``."""
        data = await self._get(key, "v1/countries", priority=priority)
        return [Country.from_api(item) for item in parse_items(data)]

    async def prices(
        self, key: ApiKey, service: str, *, priority: Priority = Priority.INTERACTIVE
    ) -> list[Price]:
        """``GET /v1/prices?service=…``: price and stock per country."""
        data = await self._get(key, "v1/prices", params={"service": service}, priority=priority)
        return [Price.from_api(item) for item in parse_items(data)]

    async def create_order(self, key: ApiKey, service: str, country: int | str) -> Order:
        """``POST /v1/orders``: buys a number. Never retried.

        Raises:
            TransportError: the answer was lost; the order may or may not exist, so the
                caller must reconcile with :meth:`orders` before telling the user anything.
        """
        data = await self._post(key, "v1/orders", {"service": service, "country": country})
        return Order.from_api(data)

    async def order(
        self, key: ApiKey, order_id: str, *, priority: Priority = Priority.INTERACTIVE
    ) -> Order:
        """``GET /v1/orders/:id``; this read also makes the provider sync the order."""
        return Order.from_api(await self._get(key, _order_path(order_id), priority=priority))

    async def cancel_order(self, key: ApiKey, order_id: str) -> Order:
        """``POST /v1/orders/:id/cancel``: full refund if no SMS arrived yet."""
        return Order.from_api(await self._post(key, _order_path(order_id) + "/cancel"))

    async def next_sms(self, key: ApiKey, order_id: str) -> Order:
        """``POST /v1/orders/:id/next-sms``: wait for another SMS on the same number."""
        return Order.from_api(await self._post(key, _order_path(order_id) + "/next-sms"))

    async def orders(
        self,
        key: ApiKey,
        *,
        limit: int = 20,
        cursor: str | None = None,
        status: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> OrderPage:
        """``GET /v1/orders``: newest first, cursor-paginated; may lag per-order reads."""
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if status:
            params["status"] = status
        data = await self._get(key, "v1/orders", params=params, priority=priority)
        return OrderPage.from_api(data)

    async def listed(
        self,
        key: ApiKey,
        order_ids: Collection[str],
        *,
        limit: int = 20,
        priority: Priority = Priority.INTERACTIVE,
    ) -> dict[str, Order]:
        """``GET /v1/orders``, the first page: which of ``order_ids`` it lists, as listed.

        Only those entries are parsed (:func:`~bot.api.models.listed_orders`).
        """
        data = await self._get(key, "v1/orders", params={"limit": limit}, priority=priority)
        return listed_orders(data, order_ids)

    # -- transport ---------------------------------------------------------------------------

    async def _get(
        self,
        key: ApiKey,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> Mapping[str, Any]:
        for attempt in range(1, self._retry.attempts + 1):
            try:
                return await self._request(key, "GET", path, Bucket.READ, priority, params=params)
            except JiemaError as exc:
                delay = self._retry_delay(exc, attempt) if _retryable(exc) else None
                if delay is None:
                    raise
                log.info(
                    "GET %s failed (%s), retry %d in %.1fs",
                    path,
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(self, exc: JiemaError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``exc``, or None to give up."""
        if attempt >= self._retry.attempts:
            return None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self._retry.max_delay else None
        return self._retry.backoff(attempt)

    async def _post(
        self, key: ApiKey, path: str, body: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any]:
        return await self._request(
            key, "POST", path, Bucket.WRITE, Priority.INTERACTIVE, body=body or {}
        )

    async def _request(
        self,
        key: ApiKey,
        method: str,
        path: str,
        bucket: Bucket,
        priority: Priority,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        request = httpx.Request(
            method,
            self._url(path, params),
            headers={**_HEADERS, "Authorization": f"Bearer {key.secret}"},
            json=body,
            extensions=self._timeout,
        )
        async with self.limiter.slot(key.id, bucket, priority):
            try:
                response = await self._send(request)
            except httpx.TimeoutException:
                self._observed(method, path, "timeout")
                raise ApiTimeoutError(f"{method} {path} timed out") from None
            except httpx.TransportError as exc:
                self._observed(method, path, type(exc).__name__)
                raise TransportError(f"{method} {path} failed: {type(exc).__name__}") from None
        self._observed(method, path, str(response.status_code))
        return _unwrap(response)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """``request`` through the transport, the answer read whole.

        Straight to the transport, as ``httpx.AsyncClient.send`` would hand it, without the
        client's per-request machinery this client has no use for (merging defaults, auth
        and redirect flows, the cookie jar, stream wrappers): 14 % of the bot's CPU under
        polling (``bench.scale_out --profile``). The request is built whole here: base URL,
        headers, timeouts.
        """
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.request = request
        return response

    def _url(self, path: str, params: Mapping[str, str | int] | None) -> httpx.URL:
        """The absolute URL of ``path`` with ``params``, built once per distinct target.

        httpx would parse the relative one and join it to the base on every request (4 % of
        the bot's CPU under polling); the same targets recur every round.
        """
        return self._absolute(path, tuple(params.items()) if params else ())

    def _join(self, path: str, query: tuple[tuple[str, str | int], ...]) -> httpx.URL:
        """``path?query`` joined as httpx joins it: the base's path, then the target's."""
        target = f"{path}?{httpx.QueryParams(query)}" if query else path
        return self._base.copy_with(raw_path=self._base.raw_path + target.encode())

    def _observed(self, method: str, path: str, status: str) -> None:
        log.debug("%s %s: %s", method, path, status)
        if self._observe is not None:
            self._observe(method, _ORDER_ID.sub("v1/orders/:id", path.partition("?")[0]), status)


def _retryable(exc: JiemaError) -> bool:
    """Worth retrying a read: no answer, a 5xx, or 408/409/429."""
    return isinstance(exc, TransportError | ServerError) or (
        isinstance(exc, ApiError) and exc.status in _RETRYABLE_STATUS
    )


def _order_path(order_id: str) -> str:
    return "v1/orders/" + quote(order_id, safe="")


def _unwrap(response: httpx.Response) -> Mapping[str, Any]:
    """Return ``data`` of a success body, or raise the error the body (or status) says."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("ok") is False:
        code = body.get("code")
        message = body.get("message")
        raise error_for(
            response.status_code,
            code if isinstance(code, str) else "UNKNOWN",
            message if isinstance(message, str) else "",
            _retry_after(response),
        )
    if response.status_code >= 400:
        raise error_for(
            response.status_code,
            f"HTTP_{response.status_code}",
            response.reason_phrase,
            _retry_after(response),
        )
    if not isinstance(body, dict) or body.get("ok") is not True:
        raise MalformedResponseError(f"unexpected answer to {response.request.url.path}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise MalformedResponseError("answer without a data object")
    return data
