"""Running the real bot inside the test's event loop, against the fakes.

:class:`InProcessBot` is a drop-in for :class:`~tests.e2e.harness.BotProcess` in journeys that
need no real process: the same environment, data directory, HTTP port and log file, and the
same start-up as ``python -m bot`` (:func:`bot.__main__.serve`: store, services, HTTP
server, Telegram, application, poller, watchers), only without the ~1 s of a new Python
process importing the bot at each start. ``stop()`` is the SIGTERM path (a clean shutdown,
leases handed back); there is no ``kill()``: a crash needs a real process (``BotProcess``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Mapping
from types import MappingProxyType

from bot import logs
from bot.__main__ import serve
from bot.config import Settings
from bot.startup import TokenRefusedError
from tests.e2e.harness import BotUnderTest

_OURS: contextvars.ContextVar[InProcessBot | None] = contextvars.ContextVar(
    "in_process_bot", default=None
)
"""Which bot a log record comes from: set in the context the bot's task (and every task it
starts) runs in, so the fakes' records and another bot's stay out of its log."""


_LEVELS_SET = ("", "aiosqlite", "httpx", "httpcore", "apscheduler")
"""The loggers whose level a bot's start sets (the root, ``logs.set_library_levels``)."""


class _OwnRecords(logging.Filter):
    def __init__(self, owner: InProcessBot) -> None:
        super().__init__()
        self._owner = owner

    def filter(self, record: logging.LogRecord) -> bool:
        return _OURS.get() is self._owner


class InProcessBot(BotUnderTest):
    """One bot deployment run in this event loop; the same interface as ``BotProcess``."""

    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event  # made at each start
    _handler: logging.Handler | None = None
    _levels: Mapping[str, int] = MappingProxyType({})
    """The levels of ``_LEVELS_SET`` before this bot's start set them."""

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, within: float = 20.0, *, healthy: bool = True) -> None:
        if self.running:
            raise AssertionError("the bot is already running")
        settings = Settings.from_env(self.env, sandbox="--sandbox" in self.args)
        self._close_log()  # a previous run that crashed
        self._log_to_file(settings)
        self._stop = asyncio.Event()
        context = contextvars.copy_context()
        context.run(_OURS.set, self)
        self._task = asyncio.create_task(self._serve(settings), context=context)
        self.starts += 1
        if healthy:
            await self.wait_healthy(within)

    async def _serve(self, settings: Settings) -> None:
        logs.set_replica("")  # as in a new process; serve() sets this replica's id
        try:
            await serve(settings, self._stop)
        except TokenRefusedError as exc:
            logging.getLogger("bot").error("%s", exc)  # what main() prints
            raise
        except Exception:
            logging.getLogger("bot").exception("the bot crashed")  # Python's traceback
            raise

    async def stop(self, within: float = 20.0) -> int:
        """What SIGTERM does: a clean shutdown; returns the exit code ``python -m bot``
        would (0; 2 if Telegram refused the token; 1 after an error)."""
        task = self._task
        if task is None or task.done():
            raise AssertionError(f"the bot is not running\n{self.log()}")
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), within)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise AssertionError(f"the bot did not stop within {within} s\n{self.log()}") from None
        except TokenRefusedError:
            return 2
        except Exception:
            return 1
        finally:
            self._close_log()
        return 0

    async def close(self) -> None:
        """The end of a test: stop the bot if it runs, close its log."""
        if self.running:
            await self.stop()
        elif self._task is not None and not self._task.cancelled():
            self._task.exception()  # retrieved: it is in the log already
        self._close_log()

    def log(self) -> str:
        if self._handler is not None:
            self._handler.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _log_to_file(self, settings: Settings) -> None:
        """What ``logs.configure`` does for a process, for this bot's records only."""
        handler = logs.redacted_handler(
            logging.FileHandler(self.log_path, encoding="utf-8"),
            logs.secrets_of(settings),
            log_format=settings.log_format,
            user_key=settings.telegram_token.encode(),
        )
        handler.filters.insert(0, _OwnRecords(self))  # before the (costly) redaction
        root = logging.getLogger()
        self._levels = {name: logging.getLogger(name).level for name in _LEVELS_SET}
        root.setLevel(min(root.level or logging.WARNING, logging.getLevelName(settings.log_level)))
        logs.set_library_levels(settings.log_level)
        root.addHandler(handler)
        self._handler = handler

    def _close_log(self) -> None:
        if self._handler is None:
            return
        handler, self._handler = self._handler, None
        logging.getLogger().removeHandler(handler)
        for name, level in self._levels.items():  # as before: other tests share this process
            logging.getLogger(name).setLevel(level)
        handler.close()
