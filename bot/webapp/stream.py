"""The live order stream: server-sent events with the order view each time it changes.

EventSource sends no headers, so ``initData`` comes as a query parameter, validated the
same way as the API's. Every open stream is tracked so a shutdown ends them at once
(each would otherwise hold the shutdown up to its maximum duration).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from bot import views
from bot.i18n import get_translator
from bot.services.miniapp import MiniApp, NotYoursError
from bot.webapp.auth import InitDataError, InitDataValidator
from bot.webapp.errors import Refusal, error, reopen
from bot.webapp.serialise import order_json

log = logging.getLogger(__name__)


class LiveStream:
    """The ``…/orders/{order_id}/events`` handler of one process, and its open streams.

    Args:
        interval: Seconds between two reads of the database.
        heartbeat: Seconds of silence after which the stream sends a comment.
        max_duration: Seconds one stream stays open (the page's EventSource reconnects).
    """

    def __init__(
        self,
        app: MiniApp,
        validator: InitDataValidator,
        *,
        interval: float,
        heartbeat: float,
        max_duration: float,
    ) -> None:
        self.app = app
        self.validator = validator
        self._interval = interval
        self._heartbeat = heartbeat
        self._max_duration = max_duration
        self._streams: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def close(self, _app: web.Application | None = None) -> None:
        """End every open live stream (at shutdown: they would hold it up to their max)."""
        self._closing = True
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
        try:
            user = self.validator.validate(request.query.get("initData"))
        except InitDataError as exc:
            log.info("webapp: initData refused on a stream (%s)", exc.reason.value)
            return reopen(request)
        t = get_translator(await self.app.language(user))
        try:
            changes = await self.app.watch(
                user.id,
                request.match_info["order_id"],
                interval=self._interval,
                heartbeat=self._heartbeat,
                max_duration=self._max_duration,
                gone=lambda: request.transport is None or request.transport.is_closing(),
            )
        except NotYoursError:
            return error(Refusal(404, "NOT_FOUND", views.not_your_order(t)))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            await response.prepare(request)
            await response.write(b"retry: 2000\n\n")
            async for state in changes:
                if state is None:
                    await response.write(b": keep-alive\n\n")
                    continue
                data = json.dumps(order_json(t, state), ensure_ascii=False)
                await response.write(f"event: order\ndata: {data}\n\n".encode())
                if state.order.is_final:
                    await response.write(b"event: end\ndata: {}\n\n")
        except ConnectionResetError:
            pass  # the page went away
        finally:
            await changes.aclose()
        return response
