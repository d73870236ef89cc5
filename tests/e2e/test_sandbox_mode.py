"""``python -m bot --sandbox``: try everything with a made-up key and no money."""

from __future__ import annotations

from pathlib import Path

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.inprocess import InProcessBot


async def test_sandbox_mode_accepts_a_made_up_key_and_sells_numbers(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp_path: Path
) -> None:
    # ``sandbox`` is not used by the bot here: --sandbox starts its own, in the bot process.
    bot = InProcessBot(telegram, sandbox, tmp_path / "data", args=("--sandbox",))
    await bot.start()
    try:
        alice = telegram.user(1001, first_name="Alice")
        await alice.send("/link jm_just-trying-the-bot-out-123")
        linked = await alice.wait_for_message(lambda m: "Key linked" in m.text)
        assert "$10.00" in linked.text
        await alice.send("/buy")
        services = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
        await alice.press(services, "Telegram")
        countries = await alice.wait_for(lambda m: "choose a country" in m.text)
        await alice.press(countries, countries.buttons[0][0].text)
        confirm = await alice.wait_for(lambda m: "Confirm your purchase" in m.text)
        await alice.press(confirm, "Buy")
        await alice.wait_for(lambda m: "Waiting for SMS" in m.text)
        assert sandbox.request_log.for_key("jm_just-trying-the-bot-out-123") == []
        assert "sandbox API at http://127.0.0.1:" in bot.log()
    finally:
        await bot.stop()
    telegram.assert_no_errors()
