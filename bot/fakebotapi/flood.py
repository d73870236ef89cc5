"""Flood control: token buckets per chat and overall, on an injectable clock.

Telegram does not publish exact numbers.  Its FAQ asks bots to stay around one message per
second in a chat (short bursts pass), twenty per minute in a group and thirty per second
overall; past that it answers ``429 Too Many Requests: retry after N``.  Token buckets model
"bursts pass, the sustained rate is capped" with those rates as defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from telegram.constants import FloodLimit


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Bucket sizes (bursts) and refill rates (messages per second).

    Attributes:
        private_burst: Messages a private chat takes at once.
        private_rate: Sustained messages per second in a private chat.
        group_burst: Messages a group takes at once.
        group_rate: Sustained messages per second in a group (20 a minute).
        global_burst: Messages all chats together take at once.
        global_rate: Sustained messages per second over all chats.
    """

    private_burst: int = 10
    private_rate: float = float(FloodLimit.MESSAGES_PER_SECOND_PER_CHAT)
    group_burst: int = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP
    group_rate: float = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP / 60
    global_burst: int = FloodLimit.MESSAGES_PER_SECOND
    global_rate: float = float(FloodLimit.MESSAGES_PER_SECOND)


DEFAULT_FLOOD_LIMITS = FloodLimits()


class _Bucket:
    def __init__(self, capacity: int, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.updated = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        """Seconds until one token is available (0 when one is)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class FloodControl:
    """Counts message sends and edits; tells when Telegram would answer 429.

    Args:
        limits: The limits, or None to switch flood control off.
        clock: Monotonic seconds; inject a fake clock to test flood handling without sleeping.
    """

    def __init__(self, limits: FloodLimits | None, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._chats: dict[int, _Bucket] = {}
        self._global: _Bucket | None = None

    def acquire(self, chat_id: int, *, is_group: bool) -> int | None:
        """Take one message slot in ``chat_id``.

        Returns:
            None when the message may go out, else the ``retry_after`` seconds (at least 1).
            A refused message takes no slot.
        """
        limits = self.limits
        if limits is None:
            return None
        now = self._clock()
        if self._global is None:
            self._global = _Bucket(limits.global_burst, limits.global_rate, now)
        chat = self._chats.get(chat_id)
        if chat is None:
            burst, rate = (
                (limits.group_burst, limits.group_rate)
                if is_group
                else (limits.private_burst, limits.private_rate)
            )
            chat = self._chats[chat_id] = _Bucket(burst, rate, now)
        buckets = (chat, self._global)
        for bucket in buckets:
            bucket.refill(now)
        wait = max(bucket.wait() for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None
