"""Linking and unlinking a key, and the welcome screens."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, buy

pytestmark = pytest.mark.in_process


async def test_start_explains_how_to_link_when_no_key(
    bot: Deployment, telegram: FakeBotApi
) -> None:
    bob = telegram.user(2002, first_name="Bob", language_code="en")
    await bob.send("/start")
    welcome = await bob.wait_for_message()
    assert "Hi, Bob" in welcome.text
    assert "/link" in welcome.text
    assert [b.text for row in welcome.buttons for b in row] == ["Link my API key"]
    await bob.send("/help")
    help_text = await bob.wait_for_message()
    for command in ("/buy", "/orders", "/balance", "/link", "/unlink", "/language"):
        assert command in help_text.text
    telegram.assert_no_errors()


async def test_link_with_key_on_its_own_line_deletes_it(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    key = sandbox.create_account(balance_cents=1234, display_name="Carol <Admin>")
    carol = telegram.user(3003, first_name="Carol")
    await carol.send("/link")
    await carol.wait_for_message(lambda m: "Send me your jiema.my API key" in m.text)
    pasted = await carol.send(key)
    linked = await carol.wait_for_message(lambda m: "Key linked" in m.text)
    assert "Carol <Admin>" in linked.text  # the display name is escaped, shown as text
    assert "$12.34" in linked.text
    assert pasted.deleted
    assert key not in linked.text
    telegram.assert_no_errors()


async def test_link_in_one_message_deletes_the_command(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    command = next(m for m in alice.messages if not m.from_bot and m.text.startswith("/link"))
    assert command.deleted
    await alice.send("/balance")
    balance = await alice.wait_for_message()
    assert "$25.00" in balance.text


async def test_wrong_and_revoked_keys_are_refused_and_nothing_is_stored(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    dave = telegram.user(4004, first_name="Dave")
    unknown = "jm_" + "x" * 43
    message = await dave.send(f"/link {unknown}")
    refused = await dave.wait_for_message(lambda m: "refused" in m.text)
    assert "Nothing was saved" in refused.text
    assert message.deleted
    revoked = sandbox.create_account()
    sandbox.revoke_key(revoked)
    await dave.send(revoked)
    await dave.wait_for_message(lambda m: "refused" in m.text)
    await dave.send("jm_short")
    await dave.wait_for_message(lambda m: "doesn't look like an API key" in m.text)
    await dave.send("/balance")
    await dave.wait_for_message(lambda m: "First link your jiema.my API key" in m.text)
    telegram.assert_no_errors()


async def test_unlink_asks_first_when_orders_are_active(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    await buy(alice)
    await alice.send("/unlink")
    question = await alice.wait_for_message(lambda m: "Unlink anyway?" in m.text)
    assert "1 active order" in question.text
    await alice.press(question, "Keep it")
    await alice.wait_for(lambda m: m.message_id == question.message_id and "stays linked" in m.text)
    await alice.send("/unlink")
    question = await alice.wait_for_message(lambda m: "Unlink anyway?" in m.text)
    await alice.press(question, "Unlink anyway")
    await alice.wait_for(lambda m: m.message_id == question.message_id and "unlinked" in m.text)
    await alice.send("/balance")
    await alice.wait_for_message(lambda m: "First link" in m.text)
    telegram.assert_no_errors()


async def test_keys_never_reach_the_database_file_or_the_log(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker, tmp_path: Path
) -> None:
    alice = await linked_user()
    await buy(alice)
    await bot.stop()
    key = alice.key.encode()
    for path in bot.data_dir.rglob("*"):
        if path.is_file():
            assert key not in path.read_bytes(), path
    log = bot.log()
    assert "DEBUG" in log  # the run logged verbosely, updates included
    assert alice.key not in log
    assert telegram.token.split(":")[1] not in log
