"""The HTTP transport under both httpx clients (the jiema API's and python-telegram-bot's).

httpx stays the API the project is written against; underneath, requests go through aiohttp
(PyPI ``httpx-aiohttp``, the transport openai-python ships for its aiohttp client). httpx's own
transport (httpcore on anyio) costs about ten times the CPU per request under concurrency
(encode/httpx#3215); measured in ``bench.scale_out`` (README, "Performance").

One thing is changed from ``httpx_aiohttp.AiohttpTransport``: how aiohttp's errors become
httpx's. That package maps every lost connection (``ServerDisconnectedError``, a reset) to
``httpx.ConnectTimeout``, which says "never sent"; the bot relies on that distinction (a
Telegram message or a purchase whose request may have gone out must not be sent again;
see :mod:`bot.telegram_outcome`). Here only a connection that was never made is a connect
error; everything after is a read error, whose outcome is unknown. And only the error's
name is kept: aiohttp's messages may carry the URL, which for Telegram holds the token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

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


class _Remapped(httpx.AsyncByteStream):
    """A response body whose read errors are mapped like the request's."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpx.TransportError as exc:
            cause = exc.__cause__
            if cause is None:
                raise
            raise _httpx_error(cause) from None

    async def aclose(self) -> None:
        await self._stream.aclose()


class _NoCookies(httpx.Cookies):
    """A jar that takes nothing from answers."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class Client(httpx.AsyncClient):
    """httpx's client, keeping no cookies.

    Neither API sets any (both authenticate every request: a bearer key, the token in the
    URL), and httpx would still hand every answer to urllib's cookie jar to look for them:
    4.6 % of the bot's CPU under polling (``bench.scale_out --profile``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("this client keeps no cookies")


class Transport(AiohttpTransport):
    """``httpx_aiohttp.AiohttpTransport`` with errors mapped by what they mean for delivery."""

    def __init__(self, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(limits=httpx.Limits(max_connections=max_connections), **kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.TransportError as exc:
            cause = exc.__cause__
            if cause is None:
                raise
            raise _httpx_error(cause) from None
        except (aiohttp.ClientError, TimeoutError) as exc:  # not in the package's own map
            raise _httpx_error(exc) from None
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Remapped(response.stream)
        return response
