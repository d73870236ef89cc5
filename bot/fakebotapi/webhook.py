"""Webhooks as the Bot API server runs them: URL rules, queued delivery, retries.

Follows ``tdlib/telegram-bot-api`` (``Client::process_set_webhook_query``, ``WebhookActor``):

- an update waits in a queue keyed per chat, user or update class
  (:func:`.state.webhook_queue_key`); only the head of a queue is in flight, so one chat's
  messages arrive one at a time and in order;
- at most ``max_connections`` deliveries are in flight;
- an answer other than 2xx, a refused connection or a timeout makes the update wait and be
  retried, with growing delays (a ``Retry-After`` header sets the delay); the failure is
  what ``getWebhookInfo`` reports as ``last_error_date``/``last_error_message``;
- an update still undelivered 24 hours after it was queued is dropped.

Deliberate deviation: ``http`` URLs and any port are accepted for loopback hosts (Telegram
wants ``https`` on 443, 80, 88 or 8443, and refuses reserved addresses such as 127.0.0.1),
and nothing is ever sent to any other host.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp

from .errors import FAKE_STRICT, bad_request
from .html import is_loopback_host
from .state import PendingUpdate, WebhookConfig, WebhookDelivery, World

# Telegram doubles the delay after each failure from 1 s (the first retry is immediate) and
# caps it between 60 and 120 s.
DEFAULT_RETRY_DELAYS = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)
# WebhookActor's connections give up after 60 s without an answer.
DEFAULT_DELIVERY_TIMEOUT = 60.0
_EXPIRY = 24 * 3600.0
_MAX_RETRY_AFTER = 3600
_PORTS = frozenset({80, 88, 443, 8443})
_BAD_WEBHOOK = "Bad Request: bad webhook: "


def parse_webhook_url(raw: str) -> str:
    """Parse a ``setWebhook`` URL as the Bot API server does.

    Returns:
        The URL to POST to; one without a scheme gets ``https://``, as the server assumes.

    Raises:
        ApiError: ``invalid webhook URL specified``.
    """
    url = raw if "://" in raw else f"https://{raw}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise bad_request("Bad Request: invalid webhook URL specified") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise bad_request("Bad Request: invalid webhook URL specified")
    return url


def verify_webhook_url(url: str) -> str:
    """Check the scheme, port and host of a parsed URL, as the webhook's first connection does.

    Returns:
        The IP address ``getWebhookInfo`` reports.

    Raises:
        ApiError: ``bad webhook: …`` for what Telegram refuses (loopback hosts excepted),
            and for any host that is not loopback (the fake delivers nowhere else).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_loopback_host(host):
        return "127.0.0.1" if host == "localhost" else host
    if parts.scheme.lower() != "https":
        raise bad_request(_BAD_WEBHOOK + "An HTTPS URL must be provided for webhook")
    if (parts.port or 443) not in _PORTS:
        raise bad_request(_BAD_WEBHOOK + "Webhook can be set up only on ports 80, 88, 443 or 8443")
    raise bad_request(
        _BAD_WEBHOOK + f"the fake Bot API delivers updates to loopback hosts only {FAKE_STRICT}"
    )


class WebhookSender:
    """Delivers the world's pending updates to its webhook while one is set.

    Args:
        world: The shared state; ``world.webhook`` says where to deliver.
        retry_delays: Seconds to wait before the n-th retry of an update (the last value
            repeats); measured on the world's monotonic clock.
        timeout: Seconds a delivery waits for the webhook's answer.
    """

    def __init__(self, world: World, *, retry_delays: Sequence[float], timeout: float) -> None:
        if not retry_delays or min(retry_delays) < 0:
            raise ValueError("retry_delays must be non-negative and not empty")
        self._world = world
        self._retry_delays = tuple(retry_delays)
        self._timeout = timeout
        self._in_flight: dict[int, tuple[str, int]] = {}  # update id -> its queue key
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def in_flight(self) -> int:
        """Deliveries waiting for the webhook's answer."""
        return len(self._in_flight)

    def start(self) -> None:
        """Start delivering (idempotent); call on the running loop."""
        if self._runner is None:
            # No pool limit of its own: max_connections is the limit.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Abandon deliveries in flight (their updates stay pending) and close."""
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._runner = None
        self._in_flight.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            self._launch_ready()
            await self._world.signal.wait(self._next_due())

    def _launch_ready(self) -> None:
        config = self._world.webhook
        if config is None:
            return
        now = self._world.clock()
        busy = set(self._in_flight.values())
        ready = sorted(
            (p for p in self._world.updates.heads() if p.key not in busy and p.due <= now),
            key=lambda p: (p.due, p.update_id),
        )
        for pending in ready[: max(0, config.max_connections - len(self._in_flight))]:
            self._in_flight[pending.update_id] = pending.key
            task = asyncio.get_running_loop().create_task(self._deliver(config, pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _next_due(self) -> float | None:
        """Seconds until the earliest retry falls due (None: wait for a change)."""
        config = self._world.webhook
        if config is None or len(self._in_flight) >= config.max_connections:
            return None  # a finished delivery notifies
        busy = set(self._in_flight.values())
        dues = [p.due for p in self._world.updates.heads() if p.key not in busy]
        if not dues:
            return None
        # At least a little: with a manual clock, time moves only when the test says so.
        return max(min(dues) - self._world.clock(), 0.01)

    async def _deliver(self, config: WebhookConfig, pending: PendingUpdate) -> None:
        assert self._session is not None
        started = self._world.clock()
        status: int | None = None
        retry_after = 0
        error: str | None
        try:
            async with self._session.post(
                config.endpoint,
                data=json.dumps(pending.update, ensure_ascii=False).encode(),
                headers=_headers(config),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
                await response.read()
                wrong = f"Wrong response from the webhook: {status} {response.reason or ''}"
                error = None if 200 <= status <= 299 else wrong.rstrip()
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError:
            error = "Webhook connection closed"
        except Exception as exc:  # a bug in the fake or an odd URL: loud, but retried
            error = f"fake Bot API could not deliver: {exc!r}"
        finally:
            self._in_flight.pop(pending.update_id, None)
        self._record(config, pending, status, error, retry_after, started)

    def _record(
        self,
        config: WebhookConfig,
        pending: PendingUpdate,
        status: int | None,
        error: str | None,
        retry_after: int,
        started: float,
    ) -> None:
        world = self._world
        now = world.clock()
        pending.attempts += 1
        world.webhook_deliveries.append(
            WebhookDelivery(
                pending.update_id, config.endpoint, status, error, pending.attempts, started, now
            )
        )
        if pending.update_id not in world.updates:  # dropped meanwhile (drop_pending_updates)
            world.signal.notify()
            return
        if error is None:
            world.updates.remove(pending.update_id)
            return
        if world.webhook is config:  # not an old webhook's late failure
            world.webhook_error = (world.now(), error)
        delay = (
            float(retry_after)
            or self._retry_delays[min(pending.attempts - 1, len(self._retry_delays) - 1)]
        )
        if now + delay > pending.created + _EXPIRY:
            world.updates.remove(pending.update_id)
            return
        pending.due = now + delay
        world.signal.notify()


def _headers(config: WebhookConfig) -> dict[str, str]:
    # Credentials in the URL (user:password@host) become Basic auth, as on Telegram: aiohttp
    # does that by itself.
    headers = {"Content-Type": "application/json"}
    if config.secret_token:
        headers["X-Telegram-Bot-Api-Secret-Token"] = config.secret_token
    return headers


def _retry_after(raw: str | None) -> int:
    try:
        return min(max(int(raw or 0), 0), _MAX_RETRY_AFTER)
    except ValueError:
        return 0
