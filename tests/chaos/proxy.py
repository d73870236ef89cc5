"""A fault-injecting HTTP proxy on loopback, between the bot and a server it talks to.

Put it in front of the fake Bot API (or the sandbox jiema API) and point the bot's
``TELEGRAM_API_URL`` (``JIEMA_API_URL``) at :attr:`ChaosProxy.root`. Each request is either
forwarded untouched or meets one :class:`Fault`:

* ``BAD_GATEWAY``: answered 502 by the "front end", never forwarded (Telegram's nginx page);
* ``STALL``: held past the client's timeout, never forwarded;
* ``SLOW_ANSWER``: forwarded at once (so it takes effect), its answer held past the client's
  timeout: what a Telegram that stalls looks like;
* ``DROP_AFTER``: forwarded, answered upstream, then the client's connection is reset
  instead of answered: a message delivered whose answer was lost;
* ``RESET``: the connection is reset before anything is forwarded;
* ``TOO_MANY``: answered 429 with ``retry_after`` (:attr:`ChaosProxy.retry_after`), never
  forwarded.

Faults come from a script (:meth:`ChaosProxy.inject`: the next *n* matching requests) or at
random (:meth:`ChaosProxy.chaos`, a seeded ``random.Random``, so a run is reproducible).
:meth:`ChaosProxy.down` closes the listening socket (connections are refused, as with no
route to Telegram) until :meth:`ChaosProxy.up`.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
from aiohttp import web

__all__ = ["ChaosProxy", "Fault", "Seen"]

_HOP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
)


class Fault(StrEnum):
    BAD_GATEWAY = "502"
    STALL = "stall"
    SLOW_ANSWER = "slow_answer"
    DROP_AFTER = "drop_after"
    RESET = "reset"
    TOO_MANY = "429"


@dataclass(frozen=True, slots=True)
class Seen:
    """A request as fault predicates see it."""

    method: str
    path: str
    body: bytes

    def names_chat(self, chat_id: int) -> bool:
        """Whether a Bot API call is aimed at ``chat_id`` (PTB sends JSON or a form)."""
        text = self.body.decode(errors="replace")
        return (
            f'"chat_id": {chat_id}' in text
            or f'"chat_id":{chat_id}' in text
            or (f"chat_id={chat_id}" in text)
        )


Match = Callable[[Seen], bool]


def _match(what: str | Match | None) -> Match:
    """``None``: every request; a string: requests whose path ends with it (a Bot API
    method, ``/v1/orders``); else a predicate of the :class:`Seen` request."""
    if what is None:
        return lambda _seen: True
    if isinstance(what, str):
        return lambda seen: seen.path.endswith(what)
    return what


@dataclass
class _Scripted:
    fault: Fault
    left: int
    match: Match
    seconds: float | None = None


@dataclass
class _Random:
    rates: dict[Fault, float]
    match: Match
    rng: random.Random


class ChaosProxy:
    """See the module docstring.

    Args:
        upstream: Root URL of the real server, e.g. ``http://127.0.0.1:41234``.
        stall_seconds: How long ``STALL`` and ``SLOW_ANSWER`` hold a request (make it longer
            than the client's timeout).
    """

    def __init__(self, upstream: str, *, stall_seconds: float = 5.0, retry_after: int = 2) -> None:
        self.upstream = upstream.rstrip("/")
        self.stall_seconds = stall_seconds
        self.retry_after = retry_after
        self.root = ""
        self.injected: Counter[tuple[Fault, str]] = Counter()
        self.forwarded: Counter[str] = Counter()
        self._scripted: list[_Scripted] = []
        self._random: _Random | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        self._session: aiohttp.ClientSession | None = None
        self._transports: set[asyncio.Transport] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a free loopback port; the root URL to give the client."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        # No pooling upstream: each forwarded request is independent, as it is for Telegram.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        await self.up()
        self.root = f"http://127.0.0.1:{self._port}"
        return self.root

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def down(self) -> None:
        """Stop listening and close every client connection: new connections are refused
        until :meth:`up` (a kept-alive one would otherwise still be served)."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        for transport in self._transports:
            _abort(transport)
        self._transports.clear()
        # abort() closes the socket at the loop's next turn: let it, so that a client that
        # reuses a kept-alive connection right after this finds it closed.
        for _ in range(2):
            await asyncio.sleep(0)

    async def up(self) -> None:
        """Listen again, on the same port."""
        if self._site is None:
            assert self._runner is not None
            self._site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
            await self._site.start()
            if not self._port:
                self._port = self._runner.addresses[0][1]

    # -- faults ------------------------------------------------------------------------------

    def inject(
        self,
        fault: Fault,
        count: int = 1,
        *,
        match: str | Match | None = None,
        seconds: float | None = None,
    ) -> None:
        """The next ``count`` requests that ``match`` meet ``fault`` (before any random one).

        ``seconds``: how long these stall, instead of :attr:`stall_seconds`.
        """
        self._scripted.append(_Scripted(fault, count, _match(match), seconds))

    def chaos(
        self, rates: dict[Fault, float], *, seed: int, match: str | Match | None = None
    ) -> None:
        """From now on, each matching request meets a fault with the given probabilities."""
        self._random = _Random(dict(rates), _match(match), random.Random(seed))

    def calm(self) -> None:
        """No more faults (scripted or random); held requests still run their course."""
        self._scripted.clear()
        self._random = None

    def count(self, fault: Fault, method: str | None = None) -> int:
        """Requests (of ``method``, or all) that met ``fault`` so far."""
        return sum(n for (f, m), n in self.injected.items() if f == fault and method in (None, m))

    def _pick(self, what: Seen) -> tuple[Fault, float] | None:
        for scripted in self._scripted:
            if scripted.left > 0 and scripted.match(what):
                scripted.left -= 1
                return scripted.fault, scripted.seconds or self.stall_seconds
        self._scripted = [s for s in self._scripted if s.left > 0]
        chaos = self._random
        if chaos is None or not chaos.match(what):
            return None
        roll = chaos.rng.random()
        for fault, rate in chaos.rates.items():
            if roll < rate:
                return fault, self.stall_seconds
            roll -= rate
        return None

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if isinstance(request.transport, asyncio.Transport):
            self._transports = {t for t in self._transports if not t.is_closing()}
            self._transports.add(request.transport)
        body = await request.read()
        picked = self._pick(Seen(request.method, path, body))
        fault, stall = picked if picked is not None else (None, 0.0)
        if fault is not None:
            self.injected[(fault, path.rsplit("/", 1)[-1])] += 1
        if fault is Fault.BAD_GATEWAY:
            return web.Response(
                status=502,
                text="<html><center><h1>502 Bad Gateway</h1></center></html>",
                content_type="text/html",
            )
        if fault is Fault.RESET:
            return _reset(request)
        if fault is Fault.TOO_MANY:
            wait = self.retry_after
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {wait}",
                    "parameters": {"retry_after": wait},
                },
                status=429,
            )
        if fault is Fault.STALL:
            await asyncio.sleep(stall)
            return _reset(request)
        answer = await self._forward(request, body)
        if fault is Fault.DROP_AFTER:
            return _reset(request)
        if fault is Fault.SLOW_ANSWER:
            await asyncio.sleep(stall)
        return answer

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        self.forwarded[request.path.rsplit("/", 1)[-1]] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            data=body or None,
            headers=headers,
        ) as upstream:
            payload = await upstream.read()
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=upstream.status, body=payload, headers=kept)


def _reset(request: web.Request) -> web.Response:
    """Reset the client's connection (RST, no answer); the returned response is never sent."""
    if request.transport is not None:
        _abort(request.transport)
    return web.Response(status=204)


def _abort(transport: asyncio.BaseTransport) -> None:
    """Close with RST (linger 0), so the client sees a reset, not an orderly end."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()
