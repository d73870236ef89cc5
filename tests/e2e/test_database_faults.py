"""The database out of reach: a short answer for the user, /healthz says so, then recovery.

Another process holds SQLite's write lock longer than the bot's busy timeout (what a stuck
backup or a full disk looks like to the bot): writes fail, reads still work (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.fakebotapi import FakeBotApi
from tests.e2e.conftest import Deployment, Linker

pytestmark = pytest.mark.in_process


async def _health(bot: Deployment) -> tuple[int, dict[str, object]]:
    answer = await bot.get("/healthz")
    return answer.status_code, answer.json()


async def _until_health(bot: Deployment, status: int, within: float = 20.0) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        code, body = await _health(bot)
        if code == status:
            return body
        if loop.time() > deadline:
            raise AssertionError(f"/healthz stayed {code} {body}, not {status}")
        await asyncio.sleep(0.1)


async def test_a_locked_database_gets_a_short_answer_and_the_bot_recovers(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    with contextlib.closing(sqlite3.connect(bot.data_dir / "bot.sqlite3", timeout=5)) as db:
        db.execute("BEGIN EXCLUSIVE")
        try:
            await alice.send("/buy")
            await alice.wait_for_message(lambda m: "temporarily unavailable" in m.text, timeout=30)
            body = await _until_health(bot, 503)
            assert "database" in body["problems"]  # type: ignore[operator]
        finally:
            db.rollback()
    await _until_health(bot, 200)
    exposition = (await bot.get("/metrics")).text
    (errors,) = (
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == "jiemabot_database_errors_total"
    )
    assert errors >= 1, "the failures are counted for the DatabaseErrors alert"
    await alice.send("/buy")
    await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    assert bot.running
    assert "Traceback" not in bot.log()
