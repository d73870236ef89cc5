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
import os
from pathlib import Path

import httpx

from bot import logs
from bot.__main__ import serve
from bot.config import Settings
from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from bot.startup import TokenRefusedError
from tests.e2e.harness import SHARED_SECRET, WEBHOOK_SECRET, free_port

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


class InProcessBot:
    """One bot deployment run in this event loop; the same interface as ``BotProcess``.

    Args:
        database_url: PostgreSQL shared with other replicas; None for SQLite in ``data_dir``.
        webhook_url: Where Telegram (the fake) delivers updates; None for long polling.
    """

    def __init__(
        self,
        telegram: FakeBotApi,
        sandbox: SandboxServer,
        data_dir: Path,
        *,
        poll_interval: float = 0.25,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        database_url: str | None = None,
        webhook_url: str | None = None,
        name: str = "bot",
    ) -> None:
        self.telegram = telegram
        self.sandbox = sandbox
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{name}.log"
        self.http_port = free_port()
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        shared: dict[str, str] = {}
        if database_url is not None:
            shared |= {"DATABASE_URL": database_url, "BOT_SECRET_KEY": SHARED_SECRET}
        if webhook_url is not None:
            shared |= {"WEBHOOK_URL": webhook_url, "WEBHOOK_SECRET": WEBHOOK_SECRET}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "JIEMA_"))},
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.root,
            "JIEMA_API_URL": sandbox.base_url,
            "BOT_DATA_DIR": str(data_dir),
            "POLL_INTERVAL": str(poll_interval),
            "LOG_LEVEL": "DEBUG",
            "HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            **shared,
            **(extra_env or {}),
        }
        self.args = args
        self.starts = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._handler: logging.Handler | None = None
        self._levels: dict[str, int] = {}

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, within: float = 20.0, *, healthy: bool = True) -> None:
        """Start the bot; unless told otherwise, wait until its ``/healthz`` says healthy
        (database open, Telegram reached, updates flowing, poller running)."""
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

    async def wait_healthy(self, within: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise AssertionError(f"the bot exited\n{self.log()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.http_url}/healthz")).status_code == 200:
                        return
                if loop.time() > deadline:
                    raise AssertionError(f"the bot was not healthy within {within} s\n{self.log()}")
                await asyncio.sleep(0.05)

    async def get(self, path: str) -> httpx.Response:
        """GET a path of the bot's own HTTP server."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await client.get(f"{self.http_url}{path}")

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

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def close(self) -> None:
        """The end of a test: stop the bot if it runs, close its log."""
        if self.running:
            await self.stop()
        elif self._task is not None and not self._task.cancelled():
            self._task.exception()  # retrieved: it is in the log already
        self._close_log()

    def log(self) -> str:
        """Everything the bot logged, across restarts."""
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
