"""Growing from one SQLite replica to PostgreSQL with ``copy-db``: nobody relinks, no order
is lost, and the code of an order bought before the move reaches its chat once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Linker, buy, sandbox_orders
from tests.e2e.harness import ROOT, BotProcess
from tests.pg import fresh_database


async def test_copy_db_moves_users_keys_and_active_orders_to_postgresql(
    deployment: BotProcess,
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    linked_user: Linker,
    tmp_path: Path,
) -> None:
    await deployment.start()
    alice = await linked_user()
    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    await deployment.stop()
    secret = (deployment.data_dir / "secret.key").read_text().strip()
    async with fresh_database() as url:
        copy = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "copy-db",
            "--to",
            url,
            cwd=ROOT,
            env={**deployment.env, "BOT_DATA_DIR": str(deployment.data_dir)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await copy.communicate()
        assert copy.returncode == 0, err.decode()
        assert "orders" in out.decode()
        assert (
            url.rsplit("@", 1)[0].split(":")[-1] not in out.decode() + err.decode()
        )  # no password
        replica = BotProcess(
            telegram,
            sandbox,
            tmp_path / "pg-replica",
            database_url=url,
            extra_env={"BOT_SECRET_KEY": secret},
            name="pg-replica",
        )
        await replica.start()
        try:
            sandbox.deliver_sms(order["id"], "Your Telegram code is 314159")
            await alice.wait_for_message(lambda m: "Code: 314159" in m.text, timeout=20)
            await alice.wait_for(
                lambda m: m.message_id == card.message_id and "SMS received" in m.text
            )
            await alice.send("/balance")
            await alice.wait_for_message(lambda m: m.text.startswith("Balance:"))
        finally:
            await replica.stop()
    assert sum(1 for m in alice.messages if "Code: 314159" in m.text) == 1
    telegram.assert_no_errors()
