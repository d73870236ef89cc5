"""Outgoing Telegram rate limits, private chats included.

PTB's ``AIORateLimiter`` paces the overall rate (27/s here, under Telegram's 30/s: see
``OVERALL_RATE``) and each group (20/min) and retries after a 429's ``retry_after``.
Telegram also asks for about one message per second in a single private chat (short bursts
pass), which matters here: a user whose many numbers get their codes at once would
otherwise trip flood control. This subclass adds that pace for sends and edits in private
chats.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

_PACED = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup", "copyMessage"})
_MAX_IDLE_LIMITERS = 10_000
# Telegram's overall limit is 30 messages/s; pacing at exactly that rate still meets 429s
# when requests reach the server closer together than they left, and each 429 pauses every
# send for retry_after (>= 1 s). A 10 % margin keeps clear of it.
OVERALL_RATE = 27


class ChatRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` plus a per-private-chat bucket (``burst`` at once, 1/s after)."""

    def __init__(self, *, private_burst: int = 5, max_retries: int = 3) -> None:
        super().__init__(overall_max_rate=OVERALL_RATE, max_retries=max_retries)
        self._private_burst = private_burst
        self._private: dict[int, AsyncLimiter] = {}

    def _private_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._private.get(chat_id)
        if limiter is None:
            if len(self._private) >= _MAX_IDLE_LIMITERS:
                self._private = {
                    c: lim for c, lim in self._private.items() if not lim.has_capacity(lim.max_rate)
                }
            limiter = AsyncLimiter(self._private_burst, self._private_burst)
            self._private[chat_id] = limiter
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id = data.get("chat_id")
        if endpoint in _PACED and isinstance(chat_id, int) and chat_id > 0:
            async with self._private_limiter(chat_id):
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
