"""Start the sandbox, the strict fake Bot API, the web chat and the real bot, all on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from bot.fakebotapi import FakeBotApi, RequestRecord
from bot.playground.chat import BotStatus, ChatServer
from bot.sandbox import SandboxConfig, SandboxServer

# Seconds the bot gets to stop after SIGTERM before it is killed.
_STOP_GRACE = 20.0

# Variables of the parent environment that must not reach the playground's bot: it talks to
# the local fakes only, keeps SQLite in the playground's data directory and polls.
_NOT_INHERITED = (
    "TELEGRAM_",
    "JIEMA_",
    "DATABASE_URL",
    "WEBHOOK_",
    "BOT_DATA_DIR",
    "BOT_SECRET_KEY",
    "HTTP_LISTEN",
    "WEBAPP_URL",
)

BOT_USERNAME = "jiema_playground_bot"

# Marks a data directory as the playground's; see prepare_data_dir().
MARKER = "PLAYGROUND"
_DATABASE_FILES = ("bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm")


class PlaygroundError(Exception):
    """The playground cannot start; the message says why and what to do."""


def prepare_data_dir(data_dir: Path) -> None:
    """Make ``data_dir`` a fresh playground data directory.

    The fakes keep their state in memory, so the bot's database of an earlier run describes
    chats and orders that no longer exist: it is removed.  A directory that is not empty and
    not marked as the playground's (a real deployment's, say) is never touched.

    Raises:
        PlaygroundError: ``data_dir`` holds something else.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / MARKER
    if not marker.exists() and any(data_dir.iterdir()):
        raise PlaygroundError(
            f"{data_dir} is not empty and is not a playground's data directory; "
            "give the playground an empty or new BOT_DATA_DIR"
        )
    marker.write_text("The playground's data directory: its database is reset at each start.\n")
    for name in _DATABASE_FILES:
        (data_dir / name).unlink(missing_ok=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BotProcess:
    """``python -m bot`` against the fakes; it is never restarted by the playground."""

    def __init__(self, env: dict[str, str], log_path: Path, telegram: FakeBotApi) -> None:
        self._env = env
        self._log_path = log_path
        self._process: asyncio.subprocess.Process | None = None
        self._polled = False
        telegram.subscribe(self._on_request)

    def _on_request(self, record: RequestRecord) -> None:
        if record.method == "getUpdates":
            self._polled = True

    async def start(self) -> None:
        with self._log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def stop(self) -> None:
        """SIGTERM, and SIGKILL if it has not exited within the grace period."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile (a Ctrl-C)
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), _STOP_GRACE)
        except TimeoutError:
            process.kill()
            await process.wait()

    def status(self) -> BotStatus:
        log = str(self._log_path)
        process = self._process
        if process is not None and process.returncode is not None:
            return BotStatus("exited", process.returncode, log)
        if self._polled:
            return BotStatus("online", None, log)
        return BotStatus("starting", None, log)


def bot_environment(
    telegram: FakeBotApi, jiema_url: str, data_dir: Path, http_port: int
) -> dict[str, str]:
    """The bot's environment: the parent's, pointed at the fakes and the data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.root,
            "JIEMA_API_URL": jiema_url,
            "BOT_DATA_DIR": str(data_dir),
            "HTTP_LISTEN": f"127.0.0.1:{http_port}",
            "WEBAPP_URL": f"http://127.0.0.1:{http_port}/app/",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


async def run_playground(listen: tuple[str, int], data_dir: Path, stop: asyncio.Event) -> None:
    """Run the playground until ``stop`` is set.

    Starts the sandbox jiema API (any made-up ``jm_`` key gets a $10 account; SMS arrive
    15 s after buying), the strict fake Bot API with a made-up token, the web chat on
    ``listen``, and the real bot (``python -m bot``) as a subprocess against both, with its
    HTTP server, and so the Mini App, on the next port.  The bot logs to
    ``data_dir/bot.log``; if it dies it stays dead (the chat's header says so).

    Args:
        listen: Host and port of the web chat (loopback).
        data_dir: The bot's ``BOT_DATA_DIR`` (SQLite, the generated secret, the log); see
            :func:`prepare_data_dir`.
        stop: Set it to stop the bot (SIGTERM) and everything else.

    Raises:
        PlaygroundError: ``listen`` is not a loopback address, or ``data_dir`` is not empty
            and not the playground's.
    """
    host, port = listen
    if not _is_loopback(host):
        raise PlaygroundError(f"the playground serves on loopback only, not on {host!r}")
    await asyncio.to_thread(prepare_data_dir, data_dir)
    async with contextlib.AsyncExitStack() as stack:
        sandbox = SandboxServer(SandboxConfig(auto_accounts=True).with_trouble())
        jiema_url = await sandbox.start()
        stack.push_async_callback(sandbox.stop)

        token = f"{7_000_000_000 + secrets.randbelow(10**9)}:{secrets.token_urlsafe(26)}"
        telegram = FakeBotApi(token, BOT_USERNAME, bot_first_name="Jiema Playground")
        await telegram.start()
        stack.push_async_callback(telegram.stop)

        env = bot_environment(telegram, jiema_url, data_dir, port + 1)
        bot = BotProcess(env, data_dir / "bot.log", telegram)
        users = [
            telegram.user(1001, "Alice", username="alice", language_code="en"),
            telegram.user(1002, "Bob", username="bob", language_code="en"),
        ]
        chat = ChatServer(telegram, sandbox, users, bot.status, time.time)
        url = await chat.start(host, port)
        stack.push_async_callback(chat.stop)

        await bot.start()
        stack.push_async_callback(bot.stop)
        print(f"Playground: open {url} in your browser", flush=True)
        await stop.wait()
