"""The main journey: link a key, buy a number, get the code pushed."""

from __future__ import annotations

from bot.sandbox import SandboxServer
from tests.e2e.conftest import Linker, sandbox_orders
from tests.e2e.fakebotapi import FakeBotApi


async def test_link_buy_and_receive_the_code(
    bot: object, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    await alice.send("/buy")
    services = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    await alice.press(services, "Telegram")
    countries = await alice.wait_for(
        lambda m: m.message_id == services.message_id and "choose a country" in m.text
    )
    first_country = countries.buttons[0][0]
    await alice.press(countries, first_country.text)
    confirm = await alice.wait_for(
        lambda m: m.message_id == services.message_id and "Confirm your purchase" in m.text
    )
    assert "Balance" in confirm.text or "balance" in confirm.text
    await alice.press(confirm, "Buy")
    card = await alice.wait_for(
        lambda m: m.message_id == services.message_id and "Waiting for SMS" in m.text
    )
    orders = sandbox_orders(sandbox, alice.key)
    assert len(orders) == 1
    assert orders[0]["phone"] in card.text
    sandbox.deliver_sms(orders[0]["id"], "Your Telegram code is 48213. Don't share it.")
    code = await alice.wait_for_message(lambda m: "48213" in m.text and "Code" in m.text)
    assert ("Copy code 48213", "48213") in [b for row in code.buttons for b in row]
    await alice.wait_for(lambda m: m.message_id == card.message_id and "SMS received" in m.text)
    telegram.assert_no_errors()
