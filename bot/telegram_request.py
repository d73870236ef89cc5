"""python-telegram-bot's requests on the bot's HTTP transport (:mod:`bot.api.transport`).

PTB's own ``HTTPXRequest`` hands every Bot API call to an ``httpx.AsyncClient``, whose
per-request machinery (merging defaults, auth and redirect flows, the cookie jar, stream
wrappers) this bot has no use for: each call is one POST with the token in its URL. Here a
:class:`~telegram.request.BaseRequest`, PTB's interface for request back ends, hands the
URL, headers and JSON body straight to the transport (:meth:`Transport.exchange`) and
gives PTB back the status and bytes it asks for. Going through ``httpx.AsyncClient`` cost a
sixth of the bot's CPU per handled update, and building httpx's request and response
objects for each call another tenth (``bench.throughput --profile``). An upload (a
multipart form) is still built by httpx.

It raises what ``HTTPXRequest.do_request`` raises, with httpx's error as ``__cause__``
(:mod:`bot.telegram_outcome` reads that chain), and counts every call for /metrics.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx
import orjson
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot import pressed
from bot.api.transport import Transport
from bot.metrics import Metrics, labelled

_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}
_JSON_HEADERS = {**_HEADERS, "Content-Type": "application/json"}


class TelegramRequest(BaseRequest):
    """Bot API calls through a pool of ``connection_pool_size`` connections.

    Args:
        metrics: Counts each call by method and error (``jiemabot_telegram_calls``).
        connection_pool_size: Connections kept open at most.
        timeout: Seconds for each of connecting, writing, reading and waiting for a pooled
            connection, unless a call gives its own (PTB adds the long poll's to
            ``getUpdates``' read timeout).
    """

    def __init__(self, metrics: Metrics, *, connection_pool_size: int, timeout: float) -> None:
        self._calls = labelled(metrics.telegram_calls)
        self._pool = connection_pool_size
        self._timeout = timeout
        # Ready before ``initialize``, as PTB's own request is: start-up asks ``getMe``
        # first (:mod:`bot.startup`). aiohttp opens its session at the first request.
        self._transport: Transport | None = Transport(max_connections=connection_pool_size)

    @property
    def read_timeout(self) -> float:
        return self._timeout

    async def initialize(self) -> None:
        # A new transport after a shutdown: a closed one cannot be opened again.
        if self._transport is None:
            self._transport = Transport(max_connections=self._pool)

    async def shutdown(self) -> None:
        if self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.aclose()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._transport is None:
            raise RuntimeError("this TelegramRequest is not initialized")
        asked = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": write_timeout,
            "pool": pool_timeout,
        }
        timeouts = {
            kind: self._timeout if value is BaseRequest.DEFAULT_NONE else value
            for kind, value in asked.items()
        }
        endpoint = url.rsplit("/", 1)[-1]
        try:
            status, body = await self._send(method, url, request_data, timeouts)
        except TelegramError as exc:
            self._calls(endpoint, type(exc).__name__).inc()
            raise
        self._calls(endpoint, "" if status == HTTPStatus.OK else str(status)).inc()
        return status, self._answer(endpoint, status, body)

    @staticmethod
    def _answer(endpoint: str, status: int, body: bytes) -> bytes:
        """The body PTB gets for an answer of ``endpoint``: here, as it came."""
        return body

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """The answer's JSON (:func:`_parse`); the keyboards of pressed messages in a list of
        updates are left for later (:mod:`bot.pressed`)."""
        parsed = _parse(payload)
        if isinstance(parsed, dict) and isinstance(updates := parsed.get("result"), list):
            for update in updates:
                pressed.defer_keyboard(update)
        return parsed

    async def _send(
        self, method: str, url: str, data: RequestData | None, timeouts: dict[str, Any]
    ) -> tuple[int, bytes]:
        """The answer's status and body, or PTB's error for httpx's (as ``HTTPXRequest``
        maps them)."""
        assert self._transport is not None
        try:
            if data is not None and data.contains_files:  # an upload: httpx builds the form
                request = httpx.Request(
                    method,
                    url,
                    headers=_HEADERS,
                    data=data.json_parameters,
                    files=data.multipart_data,
                    extensions={"timeout": timeouts},
                )
                response = await self._transport.handle_async_request(request)
                return response.status_code, response.content
            answer = await self._transport.exchange(
                method,
                url,
                headers=_HEADERS if data is None else _JSON_HEADERS,
                data=None if data is None else orjson.dumps(data.parameters),
                timeouts=timeouts,
            )
            return answer.status, answer.body
        except httpx.PoolTimeout as exc:
            raise TimedOut("Pool timeout: no connection free; the request was not sent") from exc
        except httpx.TimeoutException as exc:
            raise TimedOut from exc
        except httpx.HTTPError as exc:
            raise NetworkError(f"httpx.{type(exc).__name__}: {exc}") from exc


_MESSAGE_IDS = ("message_id", "date", "chat")
"""What PTB needs to build a ``Message``, and all the bot reads of one it sent."""

_EDITS = frozenset(
    {"editMessageText", "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup"}
)
_DONE = b'{"ok":true,"result":true}'
"""The Bot API's answer to an edit that returns no message (an inline message's)."""


class SendingRequest(TelegramRequest):
    """The request for the bot's own calls: everything but ``getUpdates``.

    The answer to a send or an edit carries back the message: its text, entities and the
    keyboard the bot has just built, which PTB would build again object by object (the
    keyboard alone was a tenth of the bot's CPU per update in ``bench.throughput
    --profile``). The bot reads only the ``message_id`` of what it sent (the order card's,
    to edit it later) and nothing of what it edited. So:

    * a message sent keeps only its ids (``message_id``, ``date``, ``chat``);
    * an edit that succeeded is answered ``true`` to PTB, as the Bot API answers the edit
      of an inline message: PTB then builds no ``Message`` at all (with its hundred fields,
      a twentieth of the CPU per update even with only the ids left).

    The message a user presses a button on comes with the update (``getUpdates``, or the
    webhook), its keyboard left for :mod:`bot.pressed` to parse when read.
    """

    @staticmethod
    def _answer(endpoint: str, status: int, body: bytes) -> bytes:
        if status == HTTPStatus.OK and endpoint in _EDITS:
            return _DONE
        return body

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        parsed = _parse(payload)
        if (
            isinstance(parsed, dict)
            and isinstance(result := parsed.get("result"), dict)
            and "message_id" in result
            and "chat" in result
        ):
            parsed["result"] = {name: result[name] for name in _MESSAGE_IDS if name in result}
        return parsed


def _parse(payload: bytes) -> dict[str, Any]:
    """The answer's JSON, parsed with orjson (PTB's hook for another JSON library); what
    orjson refuses goes to PTB's own parser, which replaces invalid UTF-8 first and raises
    PTB's error for what is not JSON."""
    try:
        parsed: dict[str, Any] = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return BaseRequest.parse_json_payload(payload)
    return parsed
