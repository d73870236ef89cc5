"""Running the real bot (``python -m bot``) as a subprocess against the fakes.

The bot process sees exactly what a deployment sees: environment variables, a data
directory, the Bot API at ``TELEGRAM_API_URL`` (our strict fake) and the jiema API at
``JIEMA_API_URL`` (the sandbox). Tests can stop it politely, kill it with SIGKILL, and start
it again on the same data directory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.sandbox import SandboxServer
from tests.e2e.fakebotapi import FakeBotApi

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """One bot deployment: a data dir and log file that outlive restarts of the process."""

    def __init__(
        self,
        telegram: FakeBotApi,
        sandbox: SandboxServer,
        data_dir: Path,
        *,
        poll_interval: float = 0.25,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.telegram = telegram
        self.sandbox = sandbox
        self.data_dir = data_dir
        self.log_path = data_dir.parent / "bot.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "JIEMA_"))},
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.root,
            "JIEMA_API_URL": sandbox.base_url,
            "BOT_DATA_DIR": str(data_dir),
            "POLL_INTERVAL": str(poll_interval),
            "LOG_LEVEL": "DEBUG",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, within: float = 20.0) -> None:
        """Start the bot and wait until it starts polling (PTB drops any webhook first)."""
        polls_before = len(self.telegram.calls("deleteWebhook"))
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        self.starts += 1
        started = await self.telegram.world.signal.wait_until(
            lambda: len(self.telegram.calls("deleteWebhook")) > polls_before or None, within
        )
        if started is None:
            raise AssertionError(f"the bot did not start polling within {within} s\n{self.log()}")

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

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def _running(self) -> asyncio.subprocess.Process:
        if self.process is None or self.process.returncode is not None:
            raise AssertionError(f"the bot is not running\n{self.log()}")
        return self.process

    def log(self) -> str:
        """Everything the bot printed, across restarts."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
