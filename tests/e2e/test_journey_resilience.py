"""Restarts, slow APIs, groups, and odd input: the bot keeps its promises."""

from __future__ import annotations

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, buy, sandbox_orders

pytestmark = pytest.mark.in_process


async def test_code_arriving_while_the_bot_is_down_is_pushed_once_after_restart(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    await bot.stop()
    sandbox.deliver_sms(order["id"], "Your Telegram code is 770077")
    await bot.start()
    await alice.wait_for_message(lambda m: "770077" in m.text)
    await alice.wait_for(lambda m: m.message_id == card.message_id and "SMS received" in m.text)
    await bot.restart()
    await alice.send("/start")
    await alice.wait_for_message(lambda m: "Hi, Alice" in m.text)
    pushes = [m for m in alice.messages if m.from_bot and "SMS for" in m.text]
    assert len(pushes) == 1
    telegram.assert_no_errors()


async def test_conversation_survives_a_restart(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    await alice.send("/buy")
    services = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    await alice.press(services, "WhatsApp")
    countries = await alice.wait_for(lambda m: "choose a country" in m.text)
    name = countries.buttons[1][0].text.split(" · ")[0].split(" ", 1)[1]
    await bot.restart()
    await alice.send(name.lower())  # still choosing a country: typing filters the countries
    found = await alice.wait_for_message(lambda m: "choose a country" in m.text)
    assert found.buttons[0][0].text.startswith(countries.buttons[1][0].text.split(" · ")[0])
    telegram.assert_no_errors()


async def test_a_slow_api_for_one_user_does_not_hold_up_another(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user(1001)
    bob = await linked_user(2002, first_name="Bob")
    sandbox.set_latency(4.0, key=alice.key)
    await alice.send("/balance")
    await bob.send("/balance")
    await bob.wait_for_message(lambda m: "Balance" in m.text, timeout=3.0)
    assert not [m for m in alice.messages if m.from_bot and m.text.startswith("Balance:")]
    await alice.wait_for_message(lambda m: "Balance" in m.text, timeout=10.0)
    telegram.assert_no_errors()


async def test_in_a_group_the_bot_points_to_the_private_chat(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    alice = telegram.user(1001, first_name="Alice")
    group = telegram.group(-100200300, title="Friends")
    await alice.send("/start@some_other_bot", chat=group)  # not for us: no answer
    await alice.send("/start@jiema_test_bot", chat=group)
    pointer = await alice.wait_for_message(lambda m: "private chat" in m.text, chat=group)
    assert pointer.reply_to is not None
    assert pointer.reply_to.text == "/start@jiema_test_bot"
    key = sandbox.create_account()
    await alice.send(f"/link {key}", chat=group)
    await alice.wait_for_message(lambda m: "Revoke that key" in m.text, chat=group)
    await alice.send("/balance")
    await alice.wait_for_message(lambda m: "First link" in m.text)
    telegram.assert_no_errors()


async def test_odd_input_gets_a_polite_answer_in_every_state(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    await alice.send_sticker()
    await alice.wait_for_message(lambda m: "I didn't get that" in m.text)
    await alice.send_photo(caption="look")
    await alice.wait_for_message(lambda m: "I didn't get that" in m.text)
    await alice.send("/nonsense")
    await alice.wait_for_message(lambda m: "I didn't get that" in m.text)
    await alice.send("x" * 4096)
    await alice.wait_for_message(lambda m: "I didn't get that" in m.text)
    await alice.send("/buy")
    await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    await alice.send_sticker()
    await alice.wait_for_message(lambda m: "I didn't get that" in m.text)
    typed = await alice.send("<b>&amp;</b>")
    await alice.wait_for_message(
        lambda m: "No service matches" in m.text and "<b>&amp;</b>" in m.text
    )
    await alice.edit(typed, "tele")  # edits are ignored: the list does not jump around
    await alice.send("/cancel")
    await alice.wait_for_message(lambda m: "Cancelled" in m.text)
    assert not [m for m in alice.messages if m.from_bot and "matching “tele”" in m.text]
    telegram.assert_no_errors()
