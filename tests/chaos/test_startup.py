"""The bot process when Telegram is unreachable or refuses the token at start."""

from __future__ import annotations

import asyncio
import sys

from bot.fakebotapi import FakeBotApi
from tests.chaos.proxy import ChaosProxy, Fault
from tests.e2e.harness import ROOT, BotProcess, eventually


async def test_a_refused_token_stops_the_bot_with_one_line_naming_it(
    deployment: BotProcess,
) -> None:
    env = {**deployment.env, "TELEGRAM_BOT_TOKEN": "123456:WRONG"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    lines = [line for line in stderr.decode().splitlines() if "TELEGRAM_BOT_TOKEN" in line]
    assert len(lines) == 1
    assert "Traceback" not in stderr.decode()
    assert "WRONG" not in stderr.decode()


async def test_an_unreachable_telegram_is_waited_out_and_the_bot_serves_when_it_answers(
    deployment: BotProcess, tg_proxy: ChaosProxy, telegram: FakeBotApi
) -> None:
    await tg_proxy.down()
    starting = asyncio.create_task(deployment.start(within=40))
    await eventually(
        lambda: deployment.log().count("Telegram unreachable (ConnectError") >= 2,
        within=15,
        what="two retries logged",
    )
    tg_proxy.inject(Fault.BAD_GATEWAY, 1, match="getMe")
    await tg_proxy.up()
    await starting
    assert "Telegram unreachable (Bad Gateway (502)); retrying in" in deployment.log()
    alice = telegram.user(1001, first_name="Alice")
    await alice.send("/start")
    await alice.wait_for_message(lambda m: "Hi, Alice" in m.text)
    assert "Traceback" not in deployment.log()


async def test_a_stop_request_while_telegram_is_unreachable_ends_the_bot_at_once(
    deployment: BotProcess, tg_proxy: ChaosProxy
) -> None:
    await tg_proxy.down()
    await deployment.start(healthy=False)
    await eventually(
        lambda: "Telegram unreachable (ConnectError" in deployment.log(),
        within=15,
        what="a retry logged",
    )
    # Well under the backoff's next wait and a container's grace period (10 s by default).
    assert await deployment.stop(within=5) == 0
    assert "stopped during start-up" in deployment.log()
    assert "Traceback" not in deployment.log()


async def test_a_stop_request_while_telegram_goes_away_ends_the_running_bot_at_once(
    deployment: BotProcess, tg_proxy: ChaosProxy
) -> None:
    await deployment.start()
    await tg_proxy.down()
    await eventually(
        lambda: "getUpdates failed" in deployment.log(), within=30, what="a failed long poll"
    )
    # PTB logs (with a traceback) that it could not confirm the last updates; they are
    # fetched again at the next start, and each is handled once (claimed in the database).
    assert await deployment.stop(within=5) == 0
