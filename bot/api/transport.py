"""The HTTP transport under the bot's two API clients (jiema's and python-telegram-bot's).

httpx stays the API the project is written against: the jiema client builds
``httpx.Request`` objects and gets ``httpx.Response`` ones, and every error either client
sees is httpx's. (python-telegram-bot's request back end, whose own interface is a URL
and bytes in, a status and bytes out, skips httpx's objects: :meth:`Transport.exchange`.)
Underneath, requests go through aiohttp (PyPI ``httpx-aiohttp``, the transport
openai-python ships for its aiohttp client). httpx's own transport (httpcore on anyio)
costs about ten times the CPU per request under concurrency (encode/httpx#3215); measured
in ``bench.scale_out`` (README, "Performance").

Two things are changed from ``httpx_aiohttp.AiohttpTransport``:

* The answer is read whole, with aiohttp's ``read()``: both APIs answer with small JSON
  documents and neither client streams.
* aiohttp's errors become httpx's by what they mean for delivery. That package maps every
  lost connection (``ServerDisconnectedError``, a reset) to ``httpx.ConnectTimeout``, which
  says "never sent"; the bot relies on that distinction (a Telegram message or a purchase
  whose request may have gone out must not be sent again; see :mod:`bot.telegram_outcome`).
  Here only a connection that was never made is a connect error; everything after is a read
  error, whose outcome is unknown. And only the error's name is kept: aiohttp's messages
  may carry the URL, which for Telegram holds the token.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


def _not_written(exc: BaseException) -> bool:
    """aiohttp found the connection closed before the whole request was handed to it.

    That is a kept-alive connection the server had closed (aiohttp learns of it only when
    writing), or one lost mid-request: either way the server never had the whole request, so
    it cannot have acted on it. (The same error class with "Connection lost" comes from
    waiting for written bytes to drain: those may have arrived.)
    """
    cause = exc.__cause__ if isinstance(exc, aiohttp.ClientOSError) else exc
    return isinstance(cause, aiohttp.ClientConnectionResetError) and str(cause) == _CLOSING


_CLOSING = "Cannot write to closing transport"


def _httpx_error(exc: BaseException) -> httpx.TransportError:
    """The httpx error that says what aiohttp's ``exc`` means for the request."""
    message = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError) or _not_written(exc):
        return httpx.ConnectError(message)  # no connection, or no request: nothing was sent
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)  # no (pooled) connection in time: not sent
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    return httpx.ReadError(message)  # sent, or maybe sent: the answer was lost


class Transport(AiohttpTransport):
    """``httpx_aiohttp.AiohttpTransport`` reading answers whole, with errors mapped by what
    they mean for delivery (see the module's docs)."""

    def __init__(self, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(limits=httpx.Limits(max_connections=max_connections), **kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the answer whole.

        As the package sends it, but the body is read here with aiohttp's ``read()``
        instead of being streamed through httpx's iterators: both APIs answer with small
        JSON documents and neither client streams, so the connection goes back to the pool
        at once and a read error is mapped here, with the request's.
        """
        try:
            data: bytes | httpx.AsyncByteStream | None = request.content or None
        except httpx.RequestNotRead:  # a multipart upload
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp frames it
        answer = await self.exchange(
            request.method,
            str(request.url),
            headers=request.headers,
            data=data,
            timeouts=request.extensions.get("timeout", {}),
        )
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=answer.body,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.encode()}
            if answer.reason
            else {"http_version": b"HTTP/1.1"},
        )

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: Any,
        timeouts: Mapping[str, float | None],
    ) -> Answer:
        """One request and its whole answer, without httpx's request and response objects.

        For a caller whose own interface is not httpx's: python-telegram-bot's request
        back end (:mod:`bot.telegram_request`) hands over a URL, headers and bytes and wants
        the status and bytes back. Errors are httpx's, mapped as for
        :meth:`handle_async_request`.
        """
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        try:
            async with self.client.request(
                method,
                url,
                headers=headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=_client_timeout(
                    timeouts.get("connect"), timeouts.get("read"), timeouts.get("pool")
                ),
            ) as answer:
                body = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc) from None
        return Answer(answer.status, answer.raw_headers, answer.reason or "", body)


class Answer(NamedTuple):
    """An HTTP answer read whole: status, raw headers, reason phrase and body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    reason: str
    body: bytes


@functools.lru_cache(maxsize=64)
def _client_timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for httpx's: a few combinations, built once each."""
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)
