"""The main journey: link a key, buy a number, get the code pushed."""

from __future__ import annotations

import asyncio

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Linker, buy, confirmation, sandbox_orders

pytestmark = pytest.mark.in_process


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


async def test_search_by_typing_filters_services_and_countries(
    bot: object, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    await alice.send("/buy")
    await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    await alice.send("whats")
    found = await alice.wait_for_message(lambda m: "matching" in m.text)
    assert [b.text for b in found.buttons[0]] == ["WhatsApp"]
    await alice.press(found, "WhatsApp")
    await alice.wait_for(
        lambda m: m.message_id == found.message_id and "choose a country" in m.text
    )
    await alice.send("malay")
    countries = await alice.wait_for_message(lambda m: "choose a country" in m.text)
    labels = [row[0].text for row in countries.buttons if (row[0].value or "").startswith("c:")]
    assert labels
    assert all("Malaysia" in label for label in labels)
    assert labels[0].startswith("🇲🇾")
    await alice.send("zzzz")
    await alice.wait_for_message(lambda m: "no country matches" in m.text)
    telegram.assert_no_errors()


async def test_not_enough_balance_shows_no_buy_button(
    bot: object, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user(balance_cents=1)
    await alice.send("/buy")
    services = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    await alice.press(services, "Telegram")
    countries = await alice.wait_for(lambda m: "choose a country" in m.text)
    await alice.press(countries, countries.buttons[0][0].text)
    confirm = await alice.wait_for(lambda m: "Confirm your purchase" in m.text)
    assert "Not enough balance" in confirm.text
    assert "Buy" not in [b.text for row in confirm.buttons for b in row]
    await alice.press(confirm, "‹ Countries")
    await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "choose a country" in m.text
    )
    telegram.assert_no_errors()


async def test_balance_spent_elsewhere_before_buy_is_explained(
    bot: object, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    confirm = await confirmation(alice)
    sandbox.set_balance(alice.key, 0)
    await alice.press(confirm, "Buy")
    refused = await alice.wait_for(lambda m: "Not enough balance" in m.text and "Top up" in m.text)
    assert "‹ Countries" in [b.text for row in refused.buttons for b in row]
    assert sandbox_orders(sandbox, alice.key) == []
    telegram.assert_no_errors()


async def test_no_numbers_left_sends_the_user_back_to_countries(
    bot: object, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    confirm = await confirmation(alice)
    country = next(c for c in sandbox.engine.catalogue.countries if c.name in confirm.text)
    sandbox.set_stock("tg", country.id, 0)
    await alice.press(confirm, "Buy")
    # Issue 14: the refusal offers other countries and an alert (tests/e2e/test_journey_shop.py).
    refused = await alice.wait_for(lambda m: "no numbers left in" in m.text)
    await alice.press(refused, "‹ Countries")
    countries = await alice.wait_for(
        lambda m: m.message_id == refused.message_id and "choose a country" in m.text
    )
    # Listed again only after every country with numbers, marked as sold out.
    assert f"{country.name} · sold out" not in str(countries.buttons[0])
    telegram.assert_no_errors()


async def test_double_tap_on_buy_buys_once(
    bot: object, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    confirm = await confirmation(alice)
    button = confirm.button("Buy")
    answers = await asyncio.gather(
        alice.press(confirm, data=button.value), alice.press(confirm, data=button.value)
    )
    assert len(sandbox_orders(sandbox, alice.key)) == 1
    assert sorted(a.text or "" for a in answers)[1].startswith("This button was already used")
    await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "Waiting for SMS" in m.text
    )
    telegram.assert_no_errors()


async def test_recently_used_services_come_first(
    bot: object, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    await buy(alice, "Discord")
    await alice.send("/buy")
    services = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    assert [b.text for b in services.buttons[0]] == ["Discord", "Telegram"]
    telegram.assert_no_errors()
