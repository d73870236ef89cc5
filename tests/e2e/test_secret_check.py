"""A process started with another ``BOT_SECRET_KEY`` refuses to start, and no key is lost.

The real bot as a subprocess: once on a SQLite deployment restarted with a wrong secret,
once as a second replica with a wrong secret joining a running one on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from pathlib import Path

from bot.fakebotapi import FakeBotApi, FakeUser
from bot.sandbox import SandboxServer
from bot.vault import KeyVault, generate_secret
from tests.e2e.conftest import Linker
from tests.e2e.harness import ROOT, BotProcess, seed
from tests.pg import fresh_database


async def refused(process: BotProcess) -> str:
    """Start ``process``, expect exit code 2; the last line it printed."""
    await process.start(healthy=False)
    assert process.process is not None
    code = await asyncio.wait_for(process.process.wait(), 30)
    assert code == 2, process.log()
    return process.log().strip().splitlines()[-1]


async def balance_shown(user: FakeUser) -> None:
    await user.send("/balance")
    await user.wait_for_message(lambda m: m.text.startswith("Balance:"), timeout=15)


async def test_a_restart_with_another_secret_refuses_and_keeps_every_key(
    deployment: BotProcess,
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    linked_user: Linker,
) -> None:
    await deployment.start()
    alice = await linked_user()
    await deployment.stop()
    wrong = BotProcess(
        telegram,
        sandbox,
        deployment.data_dir,
        extra_env={"BOT_SECRET_KEY": generate_secret()},
        name="wrong-secret",
    )
    line = await refused(wrong)
    assert line.startswith("configuration error: BOT_SECRET_KEY does not match"), line
    with sqlite3.connect(deployment.data_dir / "bot.sqlite3") as conn:
        [(cipher,)] = conn.execute("SELECT key_cipher FROM users").fetchall()
    assert cipher is not None
    await deployment.start()
    await balance_shown(alice)


async def test_a_replica_with_another_secret_refuses_to_join_the_fleet(
    telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker, tmp_path: Path
) -> None:
    async with fresh_database() as url:
        first = BotProcess(telegram, sandbox, tmp_path / "a", database_url=url, name="a")
        await first.start()
        try:
            alice = await linked_user()
            wrong = BotProcess(
                telegram,
                sandbox,
                tmp_path / "b",
                database_url=url,
                extra_env={"BOT_SECRET_KEY": generate_secret()},
                name="b",
            )
            assert "BOT_SECRET_KEY does not match" in await refused(wrong)
            await balance_shown(alice)  # the running replica still reads the key
        finally:
            await first.stop()


async def test_a_lost_secret_refuses_to_start_until_the_operator_erases_the_keys(
    deployment: BotProcess, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    key = sandbox.create_account()
    await seed(deployment.data_dir, 1001, key, [])
    await deployment.start()
    await deployment.stop()
    (deployment.data_dir / "secret.key").unlink()  # the operator lost the data dir's secret
    line = await refused(deployment)
    assert "python -m bot reset-secret --erase-keys" in line
    reset = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "reset-secret",
        "--erase-keys",
        cwd=ROOT,
        env=deployment.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await reset.communicate()
    assert reset.returncode == 0, err.decode()
    assert out.decode().startswith("erased 1 stored keys")
    alice = telegram.user(1001, first_name="Alice")
    await deployment.start()
    await alice.send("/balance")
    await alice.wait_for_message(lambda m: "First link your jiema.my API key" in m.text)
    await alice.send(f"/link {key}")
    await alice.wait_for_message(lambda m: "Key linked" in m.text)
    telegram.assert_no_errors()


async def test_an_unreadable_key_is_kept_and_its_owner_told(
    deployment: BotProcess, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    await deployment.start()
    alice = await linked_user()
    await deployment.stop()
    stranger = KeyVault.from_secret(generate_secret())  # e.g. a row restored from elsewhere
    cipher = stranger.encrypt(alice.id, alice.key)
    database = deployment.data_dir / "bot.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE users SET key_cipher = ? WHERE telegram_id = ?", (cipher, alice.id))
    await deployment.start()
    await alice.send("/balance")
    await alice.wait_for_message(lambda m: "I can't read your saved API key right now" in m.text)
    await deployment.stop()
    with contextlib.closing(sqlite3.connect(database)) as conn:
        [(kept,)] = conn.execute("SELECT key_cipher FROM users").fetchall()
    assert kept == cipher
    assert "cannot be decrypted (kept)" in deployment.log()
    assert alice.key not in deployment.log()
