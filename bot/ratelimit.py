"""Outgoing Telegram rate limits, private chats included; a 429 holds up only its chat.

Paces, so that Telegram never has to say 429:

* overall 27 requests/s for every call aimed at a chat (``OVERALL_RATE``, under Telegram's
  30/s: pacing at exactly 30/s still meets 429s when requests reach the server closer
  together than they left), shared among the live replicas (:meth:`ChatRateLimiter.share_overall`);
* each group 20/min;
* each private chat a burst of ``private_burst`` then 1/s for sends and edits (Telegram asks
  for about one message per second in a chat; a user whose many numbers get their codes at
  once would otherwise trip flood control).

Code messages (:data:`CODE`) go first: at the chat's pace and at the overall rate they are
let through ahead of every other call waiting there (card edits, notices), so a user's code
never waits behind the redraws of their own cards, nor behind other users' ones.

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
import heapq
import itertools
import logging
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram_outcome import retry_seconds

__all__ = ["BACKGROUND", "CODE", "OVERALL_RATE", "ChatRateLimiter", "SendPolicy"]

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
    first: bool = False
    """Let through ahead of the other calls waiting for the same rate (code messages)."""


BACKGROUND: Final = SendPolicy(retries=0)
"""For outbox sends: a 429 (or a chat still waiting out one) is raised at once."""
CODE: Final = SendPolicy(retries=0, first=True)
"""For code messages: as :data:`BACKGROUND`, and ahead of every other call waiting."""


def _period(rate: float, weight: int) -> float:
    """Seconds the overall bucket spans: long enough that ``weight`` units fit in it."""
    return float(max(1, math.ceil(weight / rate)))


def _overall_lane(rate: float, weight: int) -> _Lane:
    period = _period(rate, weight)
    return _Lane(AsyncLimiter(rate * period, period))


class _Lane:
    """A limiter taken one caller at a time, ``first`` callers ahead of the others.

    Callers queue here rather than inside the limiter (which would let them through in the
    order they came): the next one to wait for capacity is the earliest ``first`` caller,
    else the earliest other one.
    """

    def __init__(self, limiter: AsyncLimiter) -> None:
        self.limiter = limiter
        self._held = False  # a caller is waiting for capacity, or has just been handed the turn
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def idle(self) -> bool:
        """Nobody waits on it and its bucket is empty: it can be dropped."""
        return not self._held and self.limiter.has_capacity(self.limiter.max_rate)

    async def take(self, amount: float, *, first: bool) -> None:
        if self._held:
            turn = asyncio.get_running_loop().create_future()
            heapq.heappush(self._queue, (0 if first else 1, next(self._order), turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # handed the turn as it was cancelled
                    self._pass_on()
                raise
        self._held = True
        try:
            await self.limiter.acquire(amount)
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        while self._queue:
            _, _, turn = heapq.heappop(self._queue)
            if not turn.done():  # a cancelled waiter is skipped
                turn.set_result(None)  # ``_held`` stays: the turn is theirs
                return
        self._held = False


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
        self._overall_rate = overall_rate
        self._overall = _overall_lane(overall_rate, 1)
        self._overall_weight = 1
        self._private_burst = private_burst
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._private: dict[int, _Lane] = {}
        self._groups: dict[int | str, _Lane] = {}
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
        weight = max(1, replicas)
        if _period(self._overall_rate, weight) != self._overall.limiter.time_period:
            # More replicas than sends per second (or back under): a bucket over a longer
            # period, so that one call's weight fits in it. Rare: a multiple of the rate
            # crossed, so the burst a new bucket allows comes at most that often.
            self._overall = _overall_lane(self._overall_rate, weight)
        self._overall_weight = weight

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
    def _bounded(table: dict[Any, _Lane], key: Any, make: Callable[[], AsyncLimiter]) -> _Lane:
        """The lane of ``key``; idle ones are dropped when the table is full."""
        lane = table.get(key)
        if lane is None:
            if len(table) >= _MAX_IDLE_LIMITERS:
                for idle in [k for k, known in table.items() if known.idle]:
                    del table[idle]
            lane = table[key] = _Lane(make())
        return lane

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
        first = rate_limit_args is not None and rate_limit_args.first
        chat_id = _chat_key(data.get("chat_id"))
        lanes: list[_Lane] = []
        if isinstance(chat_id, int) and chat_id > 0 and endpoint in _PACED:
            burst = self._private_burst
            lanes.append(self._bounded(self._private, chat_id, lambda: AsyncLimiter(burst, burst)))
        elif chat_id is not None and (isinstance(chat_id, str) or chat_id < 0):
            lanes.append(
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
                for lane in lanes:
                    await lane.take(1, first=first)
                if chat_id is not None:
                    await self._overall.take(self._overall_weight, first=first)
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
