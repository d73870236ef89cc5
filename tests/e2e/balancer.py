"""A round-robin HTTP reverse proxy on loopback: the load balancer in front of bot replicas.

Each request goes to the next target in turn; a target that refuses the connection is
skipped for the next one, as a load balancer's health check would, and only when every
target refuses does the client get ``502 Bad Gateway``.  The method, path, query, headers
and body are forwarded as they came (plus ``X-Forwarded-For``/``-Proto``/``-Host``, as
nginx in front of the replicas sets them); the target's status, headers and body come back.
A server-sent event stream (a request that accepts ``text/event-stream``, such as the Mini
App's live order view) is passed on chunk by chunk as the target writes it, with no overall
time limit, and is logged in :attr:`Balancer.routed` as soon as the target answers, so a
test can tell which target holds an open stream.

Typical use, with the fake Bot API delivering to two replicas::

    async with Balancer([replica_a.url, replica_b.url]) as balancer:
        await bot.set_webhook(f"{balancer.url}/telegram")
        ...
        assert {r.target for r in balancer.routed} == {replica_a.url, replica_b.url}
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp import web

# Hop-by-hop headers (RFC 9110 §7.6.1) and those aiohttp recomputes for the new message.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True, slots=True)
class Routed:
    """Where one request went.

    Attributes:
        method: The request's method.
        path_qs: Its path and query string.
        target: The target that answered (None when every target refused: 502).
        status: The status the client got.
        skipped: Targets that refused the connection before one answered.
    """

    method: str
    path_qs: str
    target: str | None
    status: int
    skipped: tuple[str, ...]


class Balancer:
    """Round-robin reverse proxy on 127.0.0.1.

    Args:
        targets: Base URLs such as ``http://127.0.0.1:8081``; a request for ``/x?y`` goes to
            ``{target}/x?y``.
        timeout: Seconds to wait for a target's answer before answering ``504``.
    """

    def __init__(self, targets: list[str], *, timeout: float = 30.0) -> None:
        if not targets:
            raise ValueError("a balancer needs at least one target")
        self.targets = [t.rstrip("/") for t in targets]
        self.routed: list[Routed] = []
        self._timeout = timeout
        self._turn = itertools.cycle(range(len(self.targets)))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen on a free port; returns the balancer's URL (also :attr:`url`)."""
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._proxy)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening and close connections to the targets."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Balancer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def hits(self, target: str) -> int:
        """How many requests ``target`` answered."""
        return sum(1 for r in self.routed if r.target == target.rstrip("/"))

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        client = request.remote or ""
        earlier = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{earlier}, {client}" if earlier else client
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        first = next(self._turn)
        order = [self.targets[(first + i) % len(self.targets)] for i in range(len(self.targets))]
        skipped: list[str] = []
        streaming = "text/event-stream" in request.headers.get("Accept", "")
        timeout = (
            aiohttp.ClientTimeout(total=None, sock_connect=self._timeout)
            if streaming
            else aiohttp.ClientTimeout(total=self._timeout)
        )
        for target in order:
            try:
                async with self._session.request(
                    request.method,
                    target + request.path_qs,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=timeout,
                ) as answer:
                    if streaming and answer.content_type == "text/event-stream":
                        return await self._stream(request, answer, target, skipped)
                    payload = await answer.read()
                    response = web.Response(
                        status=answer.status,
                        reason=answer.reason,
                        body=payload,
                        headers={
                            k: v
                            for k, v in answer.headers.items()
                            if k.lower() not in _NOT_FORWARDED
                        },
                    )
            except aiohttp.ClientConnectorError:
                skipped.append(target)
                continue
            except TimeoutError:
                self._log(request, target, 504, skipped)
                return web.Response(status=504, text="Gateway Timeout")
            except aiohttp.ClientError:  # accepted, then dropped the connection
                self._log(request, target, 502, skipped)
                return web.Response(status=502, text="Bad Gateway")
            self._log(request, target, response.status, skipped)
            return response
        self._log(request, None, 502, skipped)
        return web.Response(status=502, text="Bad Gateway: every target refused the connection")

    async def _stream(
        self,
        request: web.Request,
        answer: aiohttp.ClientResponse,
        target: str,
        skipped: list[str],
    ) -> web.StreamResponse:
        """Pass an event stream on as it comes, until either side closes it."""
        self._log(request, target, answer.status, skipped)
        response = web.StreamResponse(
            status=answer.status,
            reason=answer.reason,
            headers={k: v for k, v in answer.headers.items() if k.lower() not in _NOT_FORWARDED},
        )
        await response.prepare(request)
        try:
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, ConnectionResetError):
            pass  # the target ended the stream, or the client went away
        return response

    def _log(
        self, request: web.Request, target: str | None, status: int, skipped: list[str]
    ) -> None:
        self.routed.append(Routed(request.method, request.path_qs, target, status, tuple(skipped)))
