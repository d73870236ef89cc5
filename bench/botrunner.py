"""``python -m bench.botrunner``: ``python -m bot`` with switches for the benchmarks only.

Environment:
    BENCH_UNPACED=1: the bot's outgoing rate limiter (Telegram's 30 messages/s overall and
        about 1/s per private chat, enforced client-side by ``bot.ratelimit``) is replaced by
        none, so a throughput run measures the code rather than that pacing.
    BENCH_CPROFILE=PATH: run under cProfile and write the stats to PATH at exit (SIGTERM).

Everything else is exactly ``python -m bot``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import BaseRateLimiter


class NoRateLimiter(BaseRateLimiter[int]):
    """Sends every request at once (PTB's default when no limiter is set)."""

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        return await callback(*args, **kwargs)


def main() -> int:
    """Apply the switches, then run the bot's own entry point."""
    import bot.app
    from bot.__main__ import main as bot_main

    if os.environ.get("BENCH_UNPACED"):
        bot.app.ChatRateLimiter = NoRateLimiter  # type: ignore[misc,assignment]
    profile = os.environ.get("BENCH_CPROFILE")
    if not profile:
        return bot_main([])
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return bot_main([])
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


if __name__ == "__main__":
    raise SystemExit(main())
