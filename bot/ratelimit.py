"""Outgoing Telegram rate limits, private chats included; a 429 holds up only its chat.

Paces, so that Telegram never has to say 429:

* overall 27 requests/s for every call aimed at a chat (``OVERALL_RATE``, under Telegram's
  30/s: pacing at exactly 30/s still meets 429s when requests reach the server closer
  together than they left), shared among the live replicas (:meth:`ChatRateLimiter.share_overall`);
* each group 20/min;
* each private chat a burst of ``private_burst`` then 1/s for sends and edits (Telegram asks
  for about one message per second in a chat; a user whose many numbers get their codes at
  once would otherwise trip flood control).

When Telegram says 429 anyway, only that chat waits ``retry_after``: PTB's
``AIORateLimiter`` pauses *every* request instead, so one flooded chat stalled all users'
codes. Calls to that chat made meanwhile wait too (or, for a :data:`BACKGROUND` call, fail at
once with ``RetryAfter`` carrying the time left, without a request). Interactive calls retry
up to ``max_retries`` times; :data:`BACKGROUND` calls (codes, cards, notices from the
outbox) never retry here: their owner stores the next attempt time in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram_outcome import retry_seconds

__all__ = ["BACKGROUND", "OVERALL_RATE", "ChatRateLimiter", "SendPolicy"]

log = logging.getLogger(__name__)

_PACED = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup", "copyMessage"})
_MAX_IDLE_LIMITERS = 10_000
OVERALL_RATE: Final = 27
GROUP_RATE_PER_MINUTE: Final = 20
_RETRY_MARGIN: Final = 0.1  # seconds added to retry_after, as PTB does

_Result = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """``rate_limit_args`` of a call: how many times a 429 is retried inside the limiter.

    A dataclass, not an int, because PTB drops a falsy ``rate_limit_args`` (0 would mean
    "the default").
    """

    retries: int


BACKGROUND: Final = SendPolicy(retries=0)
"""For outbox sends: a 429 (or a chat still waiting out one) is raised at once."""


class ChatRateLimiter(BaseRateLimiter[SendPolicy]):
    """Throttles every call (see the module docstring); ``RetryAfter`` is per chat.

    Args:
        private_burst: Sends and edits one private chat may make at once before 1/s.
        max_retries: 429 retries of a call without a :class:`SendPolicy`.
        clock: Monotonic seconds (the event loop's by default).
        sleep: Awaitable sleep used to wait out a chat's ``retry_after``.
    """

    def __init__(
        self,
        *,
        private_burst: int = 5,
        max_retries: int = 3,
        overall_rate: float = OVERALL_RATE,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Coroutine[Any, Any, object]] = asyncio.sleep,
    ) -> None:
        self._overall = AsyncLimiter(overall_rate, 1)
        self._overall_weight = 1
        self._private_burst = private_burst
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._private: dict[int, AsyncLimiter] = {}
        self._groups: dict[int | str, AsyncLimiter] = {}
        # chat id (None: calls that name no chat) -> clock time before which it must wait.
        self._not_before: dict[int | str | None, float] = {}

    async def initialize(self) -> None:
        """Nothing to set up."""

    def share_overall(self, replicas: int) -> None:
        """Pace this process at its share of the overall rate among ``replicas`` live ones.

        Telegram counts the bot's messages per token, whichever replica sends them: three
        replicas each at the full rate would meet 429s. Each call then takes ``replicas``
        units of the one overall bucket: the bucket (what was just sent) carries over when
        the share changes, where a new limiter at the new rate would start empty and allow
        a burst of its whole rate on top of the sends just made.
        """
        self._overall_weight = max(1, min(replicas, int(self._overall.max_rate)))

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def waiting(self, chat_id: int | str | None) -> float:
        """Seconds ``chat_id`` must still wait after a 429 (0 when it may be sent to)."""
        deadline = self._not_before.get(chat_id)
        if deadline is None:
            return 0.0
        left = deadline - self._now()
        if left <= 0:
            self._not_before.pop(chat_id, None)
            return 0.0
        return left

    def _hold(self, chat_id: int | str | None, seconds: float) -> None:
        if len(self._not_before) >= _MAX_IDLE_LIMITERS:
            now = self._now()
            self._not_before = {c: d for c, d in self._not_before.items() if d > now}
        deadline = self._now() + seconds
        self._not_before[chat_id] = max(deadline, self._not_before.get(chat_id, deadline))

    @staticmethod
    def _bounded(
        table: dict[Any, AsyncLimiter], key: Any, make: Callable[[], AsyncLimiter]
    ) -> AsyncLimiter:
        """The limiter of ``key``; idle ones are dropped when the table is full."""
        limiter = table.get(key)
        if limiter is None:
            if len(table) >= _MAX_IDLE_LIMITERS:
                for idle in [k for k, lim in table.items() if lim.has_capacity(lim.max_rate)]:
                    del table[idle]
            limiter = table[key] = make()
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, _Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: SendPolicy | None,
    ) -> _Result:
        retries = self._max_retries if rate_limit_args is None else rate_limit_args.retries
        chat_id = _chat_key(data.get("chat_id"))
        contexts: list[AsyncLimiter] = []
        if isinstance(chat_id, int) and chat_id > 0 and endpoint in _PACED:
            burst = self._private_burst
            contexts.append(
                self._bounded(self._private, chat_id, lambda: AsyncLimiter(burst, burst))
            )
        elif chat_id is not None and (isinstance(chat_id, str) or chat_id < 0):
            contexts.append(
                self._bounded(
                    self._groups, chat_id, lambda: AsyncLimiter(GROUP_RATE_PER_MINUTE, 60)
                )
            )
        attempt = 0
        while True:
            left = self.waiting(chat_id)
            if left > 0:
                if rate_limit_args is not None and attempt >= retries:
                    raise RetryAfter(max(1, round(left)))  # no request: the chat must wait
                await self._sleep(left)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    for limiter in contexts:
                        await stack.enter_async_context(limiter)
                    if chat_id is not None:
                        await self._overall.acquire(self._overall_weight)
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc) + _RETRY_MARGIN
                self._hold(chat_id, wait)
                if attempt >= retries:
                    raise
                attempt += 1
                log.info("chat %s: flood control, retrying %s in %.1f s", chat_id, endpoint, wait)


def _chat_key(chat_id: object) -> int | str | None:
    """PTB passes ``chat_id`` as given: an int, a numeric string, or ``@channel``."""
    if chat_id is None or isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    with contextlib.suppress(ValueError):
        return int(text)
    return text
