"""The live order stream: server-sent events with the order view each time it changes.

The page reads it with ``fetch()`` and the same ``Authorization: tma …`` header as every
API call, never with ``initData`` in the URL (EventSource cannot send headers, and URLs
reach access logs). Changes come from :class:`~bot.services.live.LiveOrders` (one watcher
per order, streams capped per user and per process). Events: ``order`` (the order view),
``end`` (final: nothing more will change) and ``closed`` (replaced by a newer stream of the
same user: the page must not reconnect). Every open stream is tracked so a shutdown ends
them at once (each would otherwise hold the shutdown up to its maximum duration).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from bot import views
from bot.i18n import get_translator
from bot.services.miniapp import End, MiniApp, NotYoursError, StreamsFull
from bot.webapp.errors import Refusal, error
from bot.webapp.gate import Gate
from bot.webapp.inputs import is_id
from bot.webapp.serialise import order_json

log = logging.getLogger(__name__)

_FULL_RETRY = 30  # seconds a page waits before trying again when the process is full


class LiveStream:
    """The ``…/orders/{order_id}/events`` handler of one process, and its open streams."""

    def __init__(self, app: MiniApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate
        self._streams: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def close(self, _app: web.Application | None = None) -> None:
        """End every open live stream (at shutdown: they would hold it up to their max)."""
        self._closing = True
        await self.app.live.close()
        for task in list(self._streams):
            task.cancel()

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The stream of one order.

        The whole handler is registered as a stream from its first line, so a shutdown
        also ends one that is still starting (it would otherwise hold the shutdown up).
        """
        task = asyncio.current_task()
        if self._closing or task is None:
            raise web.HTTPServiceUnavailable
        self._streams.add(task)
        try:
            return await self._stream(request)
        finally:
            self._streams.discard(task)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        user = await self.gate.admit(request)
        if isinstance(user, web.Response):
            return user
        t = get_translator(await self.app.language(user))
        order_id = request.match_info["order_id"]
        try:
            if not is_id(order_id):
                raise NotYoursError
            listener = await self.app.follow(
                user.id,
                order_id,
                gone=lambda: request.transport is None or request.transport.is_closing(),
            )
        except NotYoursError:
            return error(Refusal(404, "NOT_FOUND", views.not_your_order(t)))
        except StreamsFull:
            text = views.too_many_requests(t, _FULL_RETRY)
            return error(Refusal(503, "BUSY", text, retry_after=_FULL_RETRY))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            await response.prepare(request)
            async for state in listener:
                if state is None:
                    await response.write(b": keep-alive\n\n")
                    continue
                data = json.dumps(order_json(t, state), ensure_ascii=False)
                await response.write(f"event: order\ndata: {data}\n\n".encode())
            if listener.end is End.FINAL:
                await response.write(b"event: end\ndata: {}\n\n")
            elif listener.end is End.REPLACED:
                await response.write(b"event: closed\ndata: {}\n\n")
        except ConnectionResetError:
            pass  # the page went away
        finally:
            self.app.live.leave(listener)
        return response
