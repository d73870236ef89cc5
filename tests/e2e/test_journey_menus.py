"""Every menu button goes where it says: main menu, paging, back, cancel, refresh."""

from __future__ import annotations

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, buy, sandbox_orders

pytestmark = pytest.mark.in_process


async def test_main_menu_buttons(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    await alice.send("/start")
    menu = await alice.wait_for_message(lambda m: "Linked account: Alice" in m.text)
    assert "$25.00" in menu.text
    await alice.press(menu, "Balance")
    await alice.wait_for_message(lambda m: m.text == "Balance: $25.00")
    await alice.press(menu, "My orders")
    await alice.wait_for_message(lambda m: "You have no orders yet" in m.text)
    await alice.press(menu, "Buy a number")
    await alice.wait_for(lambda m: m.message_id == menu.message_id and "Choose a service" in m.text)
    telegram.assert_no_errors()


async def test_link_button_asks_for_the_key(bot: Deployment, telegram: FakeBotApi) -> None:
    bob = telegram.user(2002, first_name="Bob")
    await bob.send("/start")
    welcome = await bob.wait_for_message()
    await bob.press(welcome, "Link my API key")
    await bob.wait_for_message(lambda m: "Send me your jiema.my API key" in m.text)
    telegram.assert_no_errors()


async def test_paging_back_and_cancel_in_the_buy_flow(
    bot: Deployment, telegram: FakeBotApi, linked_user: Linker
) -> None:
    alice = await linked_user()
    await alice.send("/buy")
    screen = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    first_page = [b.text for row in screen.buttons for b in row]
    await alice.press(screen, "›")
    page2 = await alice.wait_for(
        lambda m: m.message_id == screen.message_id and "2/59" in str(m.buttons)
    )
    assert [b.text for row in page2.buttons for b in row][:12] != first_page[:12]
    await alice.press(page2, "‹")
    await alice.wait_for(lambda m: m.message_id == screen.message_id and "1/59" in str(m.buttons))
    await alice.press(screen, "Telegram")
    countries = await alice.wait_for(lambda m: "choose a country" in m.text)
    cheapest = countries.buttons[0][0].text
    await alice.press(countries, "›")
    page2 = await alice.wait_for(
        lambda m: m.message_id == screen.message_id and cheapest not in str(m.buttons)
    )
    await alice.press(page2, "‹ Services")
    await alice.wait_for(
        lambda m: m.message_id == screen.message_id and "Choose a service" in m.text
    )
    await alice.press(screen, "Cancel")
    await alice.wait_for(lambda m: m.message_id == screen.message_id and "Cancelled" in m.text)
    # Typing now is not a search any more: the flow is over.
    await alice.send("telegram")
    await alice.wait_for_message(lambda m: "I didn't get that" in m.text)
    telegram.assert_no_errors()


@pytest.mark.bot_env(POLL_INTERVAL="60")
async def test_refresh_shows_a_code_before_the_poller_would(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    sandbox.deliver_sms(order["id"], "Your code is 818181")
    await alice.press(card, "Refresh")
    await alice.wait_for(lambda m: "Code: 818181" in m.text)
    await alice.wait_for(lambda m: m.message_id == card.message_id and "SMS received" in m.text)
    telegram.assert_no_errors()
