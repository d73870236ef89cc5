"""Several bot replicas on one fresh PostgreSQL database, behind a round-robin balancer.

The webhook (and, when asked, ``WEBAPP_URL``) is the balancer's address, as it would be in
front of a real fleet: Telegram and the Mini App reach whichever replica is next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.balancer import Balancer
from tests.e2e.harness import BotProcess
from tests.pg import fresh_database

WEBHOOK_PATH = "/telegram/webhook"


@asynccontextmanager
async def replicas_behind_a_balancer(
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    tmp_path: Path,
    *,
    count: int = 2,
    webapp: bool = False,
) -> AsyncIterator[tuple[list[BotProcess], Balancer, str]]:
    """``count`` running replicas, their balancer and the database URL; stopped after."""
    async with fresh_database() as url:
        replicas = [
            BotProcess(
                telegram,
                sandbox,
                tmp_path / f"replica{index}",
                database_url=url,
                webhook_url="http://127.0.0.1:1/",  # the balancer's, once it listens
                name=f"replica{index}",
            )
            for index in range(count)
        ]
        balancer = Balancer([r.http_url for r in replicas])
        public = await balancer.start()
        for replica in replicas:
            replica.env["WEBHOOK_URL"] = public + WEBHOOK_PATH
            if webapp:
                replica.env["WEBAPP_URL"] = public + "/app/"
        try:
            await asyncio.gather(*(r.start() for r in replicas))
            yield replicas, balancer, url
        finally:
            for replica in replicas:
                if replica.process is not None and replica.process.returncode is None:
                    await replica.stop()
            await balancer.stop()
