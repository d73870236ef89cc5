"""Reaching Telegram at start, and keeping a failing long poll to one log line.

At start the bot asks ``getMe`` until Telegram answers: a refused token is a configuration
error (one clear line, exit), anything else (no route, connection refused, a timeout, a 5xx)
is waited out with capped exponential backoff and a log line per attempt, so a bot started
before the network is up, or during a Telegram outage, starts serving as soon as it can.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, User
from telegram.error import InvalidToken, TelegramError

from bot.telegram_outcome import describe

__all__ = ["TokenRefusedError", "polling_error", "wait_for_telegram"]

log = logging.getLogger(__name__)


class TokenRefusedError(RuntimeError):
    """Telegram refused the bot token (401/404 from ``getMe``); retrying cannot help."""

    def __init__(self) -> None:
        super().__init__(
            "Telegram refused TELEGRAM_BOT_TOKEN (401/404 from getMe): check the token "
            "from @BotFather"
        )


async def wait_for_telegram(
    bot: Bot,
    *,
    on_retry: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], Awaitable[object]],
    max_delay: float = 60.0,
    first_delay: float = 1.0,
) -> User:
    """``getMe`` until Telegram answers; the bot's own user.

    Args:
        bot: An initialised-or-not PTB bot (``get_me`` is called directly, so
            ``Bot.initialize`` is not needed first and nothing is cached on failure).
        on_retry: Told each failure's short reason and the seconds until the next try
            (e.g. to mark ``/healthz`` unhealthy); the log line is written either way.
        sleep: Awaitable sleep (``asyncio.sleep``; tests pass a fake clock's).
        max_delay: Cap of the backoff, in seconds.
        first_delay: The first wait; doubled after each failure up to ``max_delay``.

    Raises:
        TokenRefusedError: Telegram answered 401 or 404 (the token is wrong or revoked).
    """
    delay = first_delay
    while True:
        try:
            return await bot.get_me()
        except InvalidToken:
            raise TokenRefusedError() from None
        except TelegramError as exc:
            # NetworkError covers no route, refused connections, timeouts and 5xx; any
            # other TelegramError (e.g. 429 on getMe) is also worth waiting out.
            reason = describe(exc)
        log.warning("Telegram unreachable (%s); retrying in %g s", reason, delay)
        if on_retry is not None:
            on_retry(reason, delay)
        await sleep(delay)
        delay = min(max_delay, delay * 2)


def polling_error(error: TelegramError) -> None:
    """``error_callback`` of ``Updater.start_polling``: one line per failed ``getUpdates``.

    PTB's default logs each one with a traceback; a 502 or a reset from Telegram's front end
    is not a bug here, and PTB retries by itself (timeouts at once, other errors after a
    growing pause of up to 30 s).
    """
    log.warning("getUpdates failed (%s); PTB retries", describe(error))
