"""No secret in the log of a webhook-mode bot at LOG_LEVEL=DEBUG, in JSON.

The bot runs as deployed (PostgreSQL with a password, webhook with its secret, an
encryption secret) against the fake Bot API, and a user links a key, buys and gets a code:
DEBUG shows every Bot API call's parameters (setWebhook's secret token) and every jiema
request.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import buy
from tests.e2e.fleet import WEBHOOK_PATH
from tests.e2e.harness import SHARED_SECRET, WEBHOOK_SECRET, BotProcess
from tests.pg import fresh_database


@pytest.fixture
async def database_with_password() -> AsyncIterator[tuple[str, str]]:
    """A fresh database owned by a new role with a long password: (URL, password)."""
    role = f"jiema_logs_{secrets.token_hex(4)}"
    password = "pw-" + secrets.token_urlsafe(18)
    async with fresh_database() as admin_url:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
            name = urlsplit(admin_url).path.lstrip("/")
            await admin.execute(f'ALTER DATABASE "{name}" OWNER TO {role}')
            await admin.execute(f"ALTER SCHEMA public OWNER TO {role}")
        finally:
            await admin.close()
        parts = urlsplit(admin_url)
        netloc = f"{role}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5432}"
        try:
            yield urlunsplit(parts._replace(netloc=netloc)), password
        finally:
            admin = await asyncpg.connect(admin_url)
            try:
                await admin.execute(f'ALTER DATABASE "{name}" OWNER TO CURRENT_USER')
                await admin.execute("ALTER SCHEMA public OWNER TO pg_database_owner")
                await admin.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
                await admin.execute(f"DROP OWNED BY {role}")
                await admin.execute(f"DROP ROLE {role}")
            finally:
                await admin.close()


async def test_a_debug_log_in_json_holds_no_secret(
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    tmp_path: Path,
    database_with_password: tuple[str, str],
) -> None:
    database_url, password = database_with_password
    bot = BotProcess(
        telegram,
        sandbox,
        tmp_path / "data",
        database_url=database_url,
        webhook_url="http://127.0.0.1:1/",
        extra_env={"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"},
    )
    bot.env["WEBHOOK_URL"] = bot.http_url + WEBHOOK_PATH
    await bot.start()
    try:
        key = sandbox.create_account(balance_cents=2500, display_name="Alice")
        user = telegram.user(1001, first_name="Alice", language_code="en")
        await user.send(f"/link {key}")
        await user.wait_for_message(lambda m: "Key linked" in m.text)
        user.key = key
        await buy(user)
        order_id, phone = (sandbox.orders(key)[0][k] for k in ("id", "phone"))
        sandbox.deliver_sms(order_id, "Your code is 314159")
        await user.wait_for_message(lambda m: "Code: 314159" in m.text, timeout=15)
    finally:
        assert await bot.stop() == 0
    log = bot.log()
    # The secrets were there to be logged: setWebhook's parameters, and the jiema requests
    # made with the key.
    assert "'secret_token': '[redacted]'" in log
    assert "GET v1/account: 200" in log
    for name, secret in (
        ("bot token", telegram.token),
        ("bot token, URL-encoded", quote(telegram.token, safe="")),
        ("webhook secret", WEBHOOK_SECRET),
        ("BOT_SECRET_KEY", SHARED_SECRET),
        ("database password", password),
        ("API key", key),
    ):
        assert secret not in log, f"the {name} is in the log"

    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message", "replica"} <= set(line) for line in lines)
    started = next(line for line in lines if line["message"].startswith("bot started"))
    assert started["level"] == "INFO"
    assert started["logger"] == "bot"
    assert started["message"] == f"bot started (replica {started['replica']})"
    # Codes and phone numbers only at DEBUG (the Bot API calls' parameters), never above.
    told = [line["message"] for line in lines if line["level"] != "DEBUG"]
    assert not [m for m in told if "314159" in m or phone in m]
    assert any("314159" in line["message"] for line in lines), "the code is there at DEBUG"
    users = {line["user"] for line in lines if "user" in line}
    assert len(users) == 1, "one user's lines carry one hash"
    (hashed,) = users
    assert re.fullmatch(r"[0-9a-f]{16}", hashed)
    assert "1001" not in hashed
