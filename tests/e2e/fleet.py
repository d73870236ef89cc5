"""Several bot replicas on one fresh PostgreSQL database, behind a round-robin balancer.

The webhook (and, when asked, ``WEBAPP_URL``) is the balancer's address, as it would be in
front of a real fleet: Telegram and the Mini App reach whichever replica is next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.balancer import Balancer
from tests.e2e.harness import BotProcess
from tests.pg import fresh_database

WEBHOOK_PATH = "/telegram/webhook"


def replica_id(log: str) -> str | None:
    """The replica id (as in the leases table) a bot process logged at its latest start."""
    found = None
    for line in log.splitlines():
        if "bot started (replica " in line:
            found = line.rsplit("replica ", 1)[1].rstrip(")")
    return found


@dataclass
class Fleet:
    """Running replicas, their balancer and their database, as the journeys look at them."""

    replicas: list[BotProcess]
    balancer: Balancer
    database_url: str

    async def lease_holder(self, name: str) -> str | None:
        db = await asyncpg.connect(self.database_url)
        try:
            holder = await db.fetchval("SELECT holder FROM leases WHERE name = $1", name)
        finally:
            await db.close()
        return None if holder is None else str(holder)

    async def delivery_sent(self, order_id: str, position: int) -> bool:
        """Has a replica recorded that SMS ``position`` of the order reached the chat?"""
        db = await asyncpg.connect(self.database_url)
        try:
            state = await db.fetchval(
                "SELECT state FROM sms_deliveries WHERE order_id = $1 AND position = $2",
                order_id,
                position,
            )
        finally:
            await db.close()
        return state == "sent"

    def replica_ids(self) -> dict[str, BotProcess]:
        """Replica id (as in the leases table) of each process, read from its log."""
        return {found: replica for replica in self.replicas if (found := replica_id(replica.log()))}

    def streams(self) -> list[str]:
        """The replica (its URL) of each live order stream the balancer passed on, in order."""
        return [
            r.target
            for r in self.balancer.routed
            if r.target is not None and r.status == 200 and r.path_qs.endswith("/events")
        ]


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
