"""Running the real bot (``python -m bot``) as a subprocess against the fakes.

The bot process sees exactly what a deployment sees: environment variables, a data
directory, the Bot API at ``TELEGRAM_API_URL`` (our strict fake) and the jiema API at
``JIEMA_API_URL`` (the sandbox). Tests can stop it politely, kill it with SIGKILL, and start
it again on the same data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sqlite3
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx

from bot.api.models import parse_time
from bot.fakebotapi import ChatMessage, FakeBotApi
from bot.sandbox import SandboxServer
from bot.store import Store, StoredOrder
from bot.vault import KeyVault, load_or_create_secret

ROOT = Path(__file__).resolve().parents[2]


SHARED_SECRET = "ZTJlLXNoYXJlZC1zZWNyZXQtb2YtZXZlcnktcmVwbGk="
"""``BOT_SECRET_KEY`` of replicas sharing one PostgreSQL database."""
WEBHOOK_SECRET = "e2e-webhook-secret_0123456789abcdefghij"


def free_port() -> int:
    """A TCP port free on loopback right now (for a bot process's ``HTTP_LISTEN``).

    Drawn at random below the kernel's ephemeral range: the fakes and sandboxes of tests
    running in parallel bind port 0, which the kernel picks from that range, so a port we
    hand to a process that binds it a moment later does not collide with theirs.
    """
    for _ in range(100):
        port = random.randint(10_000, 32_000)
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


class BotUnderTest(ABC):
    """One bot deployment: a data dir and log file that outlive restarts of the bot.

    What :class:`BotProcess` and :class:`~tests.e2e.inprocess.InProcessBot` share: the
    environment a deployment sees, the HTTP port, waiting for ``/healthz``.

    Args:
        database_url: PostgreSQL shared with other replicas; None for SQLite in ``data_dir``.
        webhook_url: Where Telegram (the fake) delivers updates; None for long polling.
    """

    own_env: ClassVar[dict[str, str]] = {}
    """Variables this way of running the bot adds to the deployment's environment."""

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
            **self.own_env,
            "HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            **shared,
            **(extra_env or {}),
        }
        self.args = args
        self.starts = 0

    @property
    @abstractmethod
    def running(self) -> bool:
        """Is the bot running right now?"""

    @abstractmethod
    async def start(self, within: float = 20.0, *, healthy: bool = True) -> None:
        """Start the bot; unless told otherwise, wait until its ``/healthz`` says healthy
        (database open, Telegram reached, updates flowing, poller running)."""

    @abstractmethod
    async def stop(self, within: float = 20.0) -> int:
        """A clean shutdown (SIGTERM); returns the exit code."""

    @abstractmethod
    def log(self) -> str:
        """Everything the bot logged, across restarts."""

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

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class BotProcess(BotUnderTest):
    """The bot as ``python -m bot`` in a subprocess: it can also be killed (SIGKILL)."""

    own_env: ClassVar[dict[str, str]] = {"PYTHONUNBUFFERED": "1"}
    process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, within: float = 20.0, *, healthy: bool = True) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *self.args,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        self.starts += 1
        if healthy:
            await self.wait_healthy(within)

    async def stop(self, within: float = 20.0) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        process = self._running()
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"the bot did not stop within {within} s\n{self.log()}") from None

    async def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, as in a crash or an OOM kill."""
        process = self._running()
        process.kill()
        await process.wait()

    def _running(self) -> asyncio.subprocess.Process:
        if self.process is None or self.process.returncode is not None:
            raise AssertionError(f"the bot is not running\n{self.log()}")
        return self.process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def seed(
    data_dir: Path, user_id: int, key: str, orders: list[dict[str, Any]], *, language: str = "en"
) -> None:
    """Write a user with a linked key and active orders into the bot's database.

    Lets a test start the bot as if it had been running for a while (many active orders)
    without buying each one through the chat. Uses the bot's own store and vault.
    """
    store = await Store.open(data_dir / "bot.sqlite3")
    try:
        vault = KeyVault.from_secret(load_or_create_secret(data_dir))
        await store.ensure_user(user_id, language)
        await store.set_key(user_id, vault.encrypt(user_id, key), vault.fingerprint(key), None)
        for order in orders:
            await store.save_order(
                StoredOrder(
                    id=order["id"],
                    user_id=user_id,
                    key_fingerprint=vault.fingerprint(key),
                    service=order["service"],
                    service_name=order["service"],
                    country_id=order["country"],
                    country_slug="",
                    phone=order["phone"],
                    status=order["status"],
                    expires_at=parse_time(order["expiresAt"]),
                    charged_cents=int(order["chargedCents"]),
                )
            )
    finally:
        await store.close()


async def eventually(check: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
    """Poll ``check`` until it holds (for state no event announces, such as a database row)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"not true within {within} s: {what}")
        await asyncio.sleep(0.02)


def shows_code(code: str, message: ChatMessage) -> bool:
    """Does the bot's ``message`` show ``code`` as a code?"""
    return f"Code: {code}" in message.text


def delivery_recorded(data_dir: Path, order_id: str, position: int) -> bool:
    """Has the bot recorded that SMS ``position`` of the order reached the chat?"""
    with contextlib.closing(sqlite3.connect(data_dir / "bot.sqlite3", timeout=5)) as db:
        row = db.execute(
            "SELECT state FROM sms_deliveries WHERE order_id = ? AND position = ?",
            (order_id, position),
        ).fetchone()
    return row is not None and row[0] == "sent"
