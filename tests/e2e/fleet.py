"""Several bot replicas on one fresh PostgreSQL database, behind a round-robin balancer
(or nginx, in ``test_nginx.py``).

The webhook (and, when asked, ``WEBAPP_URL``) is the front's address, as it would be in
front of a real fleet: Telegram and the Mini App reach whichever replica is next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import asyncpg
import pytest

from bot.fakebotapi import FakeBotApi, FakeUser
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


async def lease_holder(database_url: str, name: str) -> str | None:
    """The replica id holding lease ``name``, if any."""
    db = await asyncpg.connect(database_url)
    try:
        holder = await db.fetchval("SELECT holder FROM leases WHERE name = $1", name)
    finally:
        await db.close()
    return None if holder is None else str(holder)


@dataclass
class Fleet:
    """Running replicas, their balancer and their database, as the journeys look at them."""

    replicas: list[BotProcess]
    balancer: Balancer
    database_url: str

    async def lease_holder(self, name: str) -> str | None:
        return await lease_holder(self.database_url, name)

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


class Front(Protocol):
    """What stands in front of the replicas (the test balancer, nginx)."""

    async def start(self) -> str:
        """Listen; returns the public URL."""
        ...

    async def stop(self) -> None: ...


F = TypeVar("F", bound=Front)


@asynccontextmanager
async def replicas_behind(
    front_of: Callable[[list[BotProcess]], F],
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    tmp_path: Path,
    *,
    count: int = 2,
    webapp: bool = False,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[list[BotProcess], F, str]]:
    """``count`` running replicas in webhook mode on a fresh PostgreSQL database
    (``extra_env`` added to their environment), the front ``front_of`` makes for them (the
    webhook and, if ``webapp``, ``WEBAPP_URL`` on its address) and the database URL;
    stopped after."""
    async with fresh_database() as url:
        replicas = [
            BotProcess(
                telegram,
                sandbox,
                tmp_path / f"replica{index}",
                database_url=url,
                webhook_url="http://127.0.0.1:1/",  # the front's, once it listens
                name=f"replica{index}",
                extra_env=extra_env,
            )
            for index in range(count)
        ]
        front = front_of(replicas)
        public = await front.start()
        for replica in replicas:
            replica.env["WEBHOOK_URL"] = public + WEBHOOK_PATH
            if webapp:
                replica.env["WEBAPP_URL"] = public + "/app/"
        try:
            await asyncio.gather(*(r.start() for r in replicas))
            yield replicas, front, url
        finally:
            for replica in replicas:
                if replica.running:
                    await replica.stop()
            await front.stop()


def balancer_for(replicas: list[BotProcess]) -> Balancer:
    """The test's round-robin balancer in front of ``replicas`` (for :func:`replicas_behind`)."""
    return Balancer([r.http_url for r in replicas])


def print_logs_if_failed(
    request: pytest.FixtureRequest, replicas: list[BotProcess], tail: int
) -> None:
    """After a failed test: the last ``tail`` characters of each replica's log."""
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for replica in replicas:
            print(f"---- {replica.log_path.name} ----\n" + replica.log()[-tail:])


async def link(telegram: FakeBotApi, sandbox: SandboxServer, user_id: int = 1001) -> FakeUser:
    """A user who linked a funded sandbox key (through whichever replica is next)."""
    key = sandbox.create_account(balance_cents=2500, display_name="Alice")
    user = telegram.user(user_id, first_name="Alice", language_code="en")
    user.key = key
    await user.send(f"/link {key}")
    await user.wait_for_message(lambda m: "Key linked" in m.text)
    return user


def codes(user: FakeUser, code: str) -> int:
    """How many of the bot's messages to ``user`` show ``code``."""
    return sum(1 for m in user.messages if f"Code: {code}" in m.text)
