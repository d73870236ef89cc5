"""Who may ask: every API request and stream passes here before it costs anything else.

The ``initData`` of the ``Authorization: tma …`` header names the user (never a URL: URLs
end up in logs), then the user's request budget (:class:`~bot.webapp.limits.UserRateLimiter`)
is spent, both without a database read or an API call. A refusal is an answer ready to send.

A request over budget is answered after a short pause (``refusal_delay``, at most its
``Retry-After``): a page that honours ``Retry-After`` loses nothing, while a client hammering
on its connections gets one refusal per connection per pause instead of hundreds a second,
so refusing it does not take the process's CPU from everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot import views
from bot.i18n import get_translator, negotiate
from bot.webapp.auth import InitDataError, InitDataValidator, WebAppUser
from bot.webapp.errors import Refusal, error, reopen
from bot.webapp.limits import UserRateLimiter

log = logging.getLogger(__name__)


class Gate:
    """Authenticates a request and spends one of its user's requests.

    Args:
        refusal_delay: Seconds a 429 waits before it is sent (at most its ``Retry-After``).
        sleep: Waits that pause (injectable for tests).
    """

    def __init__(
        self,
        validator: InitDataValidator,
        limiter: UserRateLimiter,
        refusal_delay: float = 1.0,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.validator = validator
        self.limiter = limiter
        self._refusal_delay = refusal_delay
        self._sleep = sleep

    async def admit(self, request: web.Request) -> WebAppUser | web.Response:
        """The request's user, or the answer refusing it (401 to reopen, 429 to slow down)."""
        try:
            user = self.validator.validate(_init_data(request))
        except InitDataError as exc:
            log.info("webapp: initData refused (%s)", exc.reason.value)
            return reopen(request)
        wait = self.limiter.take(user.id)
        if wait:
            # The language of initData: a refusal must not cost a database read.
            t = get_translator(negotiate(user.language_code))
            text = views.too_many_requests(t, wait)
            await self._sleep(min(self._refusal_delay, wait))
            return error(Refusal(429, "RATE_LIMITED", text, retry_after=wait))
        return user


def _init_data(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "tma" and value:
        return value
    return None
