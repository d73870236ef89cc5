"""Order cards: cancel with refund, another SMS, history paging, buying again."""

from __future__ import annotations

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, buy, sandbox_orders

pytestmark = pytest.mark.in_process


async def test_cancel_refunds_and_updates_the_card(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user(balance_cents=1000)
    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    price = int(order["chargedCents"])
    answer = await alice.press(card, "Cancel order")
    assert answer.text is not None
    assert "refunded" in answer.text
    await alice.wait_for(lambda m: m.message_id == card.message_id and "Cancelled" in m.text)
    assert sandbox.engine.account_of_key(alice.key).balance_cents == 1000
    assert price > 0
    updated = next(m for m in alice.messages if m.message_id == card.message_id)
    assert [b.text for row in updated.buttons for b in row] == ["Buy again", "★ Favourite"]
    telegram.assert_no_errors()


@pytest.mark.bot_env(POLL_INTERVAL="60")
async def test_cancel_after_a_code_is_refused_with_a_reason(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    # The SMS arrives while the card still offers Cancel (the poller has not looked yet).
    sandbox.deliver_sms(order["id"], "Your code is 555111")
    answer = await alice.press(card, "Cancel order")
    assert answer.text is not None
    assert "can't be cancelled" in answer.text
    await alice.wait_for_message(lambda m: "555111" in m.text)
    await alice.wait_for(lambda m: m.message_id == card.message_id and "SMS received" in m.text)
    telegram.assert_no_errors()


async def test_another_sms_pushes_only_the_new_code(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    sandbox.deliver_sms(order["id"], "Your code is 111111")
    await alice.wait_for_message(lambda m: "111111" in m.text)
    received = await alice.wait_for(
        lambda m: m.message_id == card.message_id and "Another SMS" in str(m.buttons)
    )
    answer = await alice.press(received, "Another SMS")
    assert answer.text is not None
    assert "another SMS" in answer.text
    await alice.wait_for(lambda m: m.message_id == card.message_id and "Waiting for SMS" in m.text)
    sandbox.deliver_sms(order["id"], "Your code is 222222")
    await alice.wait_for_message(lambda m: "222222" in m.text)
    await alice.wait_for(lambda m: m.message_id == card.message_id and "2 SMS received" in m.text)
    codes = [m for m in alice.messages if m.from_bot and "Code:" in m.text]
    assert [("111111" in m.text, "222222" in m.text) for m in codes] == [
        (True, False),
        (False, True),
    ]
    telegram.assert_no_errors()


async def test_history_pages_with_the_api_cursor_and_opens_cards(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user(balance_cents=10_000)
    account = sandbox.engine.account_of_key(alice.key)
    for _ in range(7):
        sandbox.engine.create_order(account, "wa", "us")
    await alice.send("/orders")
    page1 = await alice.wait_for_message(lambda m: "Your orders" in m.text)
    rows = [row[0].text for row in page1.buttons]
    assert len(rows) == 6  # five orders and the navigation row
    assert page1.buttons[-1][0].text == "›"
    await alice.press(page1, "›")
    page2 = await alice.wait_for(lambda m: m.message_id == page1.message_id and "page 2" in m.text)
    assert len(page2.buttons) == 3  # two orders, then "‹"
    assert page2.buttons[-1][0].text == "‹"
    await alice.press(page2, page2.buttons[0][0].text)
    card = await alice.wait_for_message(lambda m: "WhatsApp" in m.text and "Waiting" in m.text)
    assert "Cancel order" in [b.text for row in card.buttons for b in row]
    telegram.assert_no_errors()


async def test_buy_again_offers_the_same_service_and_country(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    card = await buy(alice)
    await alice.press(card, "Cancel order")
    cancelled = await alice.wait_for(
        lambda m: m.message_id == card.message_id and "Cancelled" in m.text
    )
    await alice.press(cancelled, "Buy again")
    confirm = await alice.wait_for_message(lambda m: "Confirm your purchase" in m.text)
    assert "Telegram" in confirm.text
    await alice.press(confirm, "Buy")
    await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "Waiting for SMS" in m.text
    )
    assert len(sandbox_orders(sandbox, alice.key)) == 2
    telegram.assert_no_errors()
