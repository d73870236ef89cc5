"""Favourites, sold-out alternatives, back-in-stock alerts and top-up, through the real bot."""

from __future__ import annotations

import pytest

from bot import callbacks as cb
from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, confirmation, sandbox_orders

pytestmark = pytest.mark.in_process

SITE = "https://jiema.example/top-up"
# The watcher checks often and prices are cached briefly, so a restock shows within a second.
FAST = pytest.mark.bot_env(ALERT_INTERVAL="0.2", PRICES_TTL="0.5", JIEMA_SITE_URL=SITE)


def labels(message: ChatMessage) -> list[str]:
    return [b.text for row in message.buttons for b in row]


def in_stock(sandbox: SandboxServer, service: str = "tg") -> list[int]:
    """Country ids with stock, cheapest first, as the bot lists them."""
    catalogue = sandbox.engine.catalogue
    found = catalogue.service(service)
    assert found is not None
    offers = [o for o in catalogue.offers(found) if o.stock > 0]
    offers.sort(key=lambda o: (o.price_cents, -o.stock))
    return [o.country_id for o in offers]


def alerts_of(user: FakeUser, phrase: str = "has numbers in") -> list[ChatMessage]:
    return [m for m in user.messages if m.from_bot and phrase in m.text]


async def sold_out_alternatives(
    user: FakeUser, sandbox: SandboxServer, country: int
) -> ChatMessage:
    """/buy → Telegram → type the sold-out ``country`` (listed, marked) → alternatives."""
    sandbox.set_stock("tg", country, 0)
    place = sandbox.engine.catalogue.country(country)
    assert place is not None
    await user.send("/buy")
    screen = await user.wait_for_message(lambda m: "Choose a service" in m.text)
    await user.press(screen, "Telegram")
    await user.wait_for(
        lambda m: m.message_id == screen.message_id and "choose a country" in m.text
    )
    data = cb.encode(cb.PickCountry("tg", country))
    await user.send(place.name)
    found = await user.wait_for_message(
        lambda m: "choose a country" in m.text and data in [b.value for r in m.buttons for b in r]
    )
    assert found.button(data=data).text.endswith("sold out")
    await user.press(found, data=data)
    return await user.wait_for(
        lambda m: m.message_id == found.message_id and "no numbers left in" in m.text
    )


@FAST
async def test_favourite_then_one_tap_from_buy(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    confirm = await confirmation(alice)
    await alice.press(confirm, "☆ Add to favourites")
    confirm = await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "★ In favourites" in labels(m)
    )
    assert "Buy" in labels(confirm)  # the confirmation is still good for buying
    await alice.press(confirm, "Cancel")

    await alice.send("/buy")
    screen = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    favourite = screen.buttons[0][0]
    assert favourite.text.startswith("★ Telegram · ")
    assert "left" in favourite.text
    assert favourite.value == cb.encode(cb.PickCountry("tg", in_stock(sandbox)[0]))
    await alice.press(screen, favourite.text)
    confirm = await alice.wait_for(
        lambda m: m.message_id == screen.message_id and "Confirm your purchase" in m.text
    )
    assert "★ In favourites" in labels(confirm)
    await alice.press(confirm, "Buy")
    card = await alice.wait_for(
        lambda m: m.message_id == screen.message_id and "Waiting for SMS" in m.text
    )
    assert len(sandbox_orders(sandbox, alice.key)) == 1

    # ★ on the order card toggles it too; /favourites lists and removes.
    answer = await alice.press(card, "★ Favourite")
    assert answer.text == "Removed from your favourites."
    answer = await alice.press(card, "★ Favourite")
    assert answer.text is not None
    assert answer.text.startswith("★ Saved")
    await alice.send("/favourites")
    listed = await alice.wait_for_message(lambda m: "Your favourites" in m.text)
    assert listed.buttons[0][0].text.startswith("★ Telegram · ")
    await alice.press(listed, "✕ Remove")
    await alice.wait_for(
        lambda m: m.message_id == listed.message_id and "no favourites yet" in m.text
    )
    telegram.assert_no_errors()


@FAST
async def test_no_numbers_at_buy_time_offers_alternatives(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    wanted, *others = in_stock(sandbox)
    confirm = await confirmation(alice)
    sandbox.set_stock("tg", wanted, 0)  # gone between the list and the tap on Buy
    await alice.press(confirm, "Buy")
    offered = await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "no numbers left in" in m.text
    )
    picks = [b for row in offered.buttons for b in row if (b.value or "").startswith("c:")]
    assert [b.value for b in picks] == [cb.encode(cb.PickCountry("tg", c)) for c in others[:3]]
    assert "🔔 Notify me when available" in labels(offered)
    assert sandbox_orders(sandbox, alice.key) == []
    await alice.press(offered, picks[0].text)
    confirm = await alice.wait_for(
        lambda m: m.message_id == offered.message_id and "Confirm your purchase" in m.text
    )
    await alice.press(confirm, "Buy")
    await alice.wait_for(
        lambda m: m.message_id == offered.message_id and "Waiting for SMS" in m.text
    )
    [order] = sandbox_orders(sandbox, alice.key)
    assert order["country"] == str(others[0])
    telegram.assert_no_errors()


@FAST
async def test_notify_me_fires_once_with_a_working_buy_button(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    first, second = in_stock(sandbox)[:2]
    offered = await sold_out_alternatives(alice, sandbox, first)
    answer = await alice.press(offered, "🔔 Notify me when available")
    assert answer.show_alert
    assert answer.text is not None
    assert "I'll tell you when Telegram has numbers in" in answer.text
    await alice.wait_for(
        lambda m: (
            m.message_id == offered.message_id and "🔔 Notify me when available" not in labels(m)
        )
    )
    sandbox.set_stock("tg", first, 33)
    told = await alice.wait_for_message(lambda m: "has numbers in" in m.text)
    assert "33 left" in told.text
    assert "$" in told.text
    await alice.press(told, "Buy")
    confirm = await alice.wait_for(
        lambda m: m.message_id == told.message_id and "Confirm your purchase" in m.text
    )
    await alice.press(confirm, "Buy")
    await alice.wait_for(lambda m: m.message_id == told.message_id and "Waiting for SMS" in m.text)

    # After a restart the watcher runs again (a second alert fires) but never repeats the first.
    await bot.restart()
    offered = await sold_out_alternatives(alice, sandbox, second)
    await alice.press(offered, "🔔 Notify me when available")
    sandbox.set_stock("tg", second, 12)
    again = await alice.wait_for_message(lambda m: "has numbers in" in m.text)
    assert "12 left" in again.text
    # The first alert's message became the order card; it was never sent a second time.
    assert alerts_of(alice) == [again]
    telegram.assert_no_errors()


@FAST
async def test_a_cancelled_alert_stays_silent(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    first, second = in_stock(sandbox)[:2]
    for country in (first, second):
        offered = await sold_out_alternatives(alice, sandbox, country)
        await alice.press(offered, "🔔 Notify me when available")
    await alice.send("/alerts")
    listed = await alice.wait_for_message(lambda m: "Your alerts" in m.text)
    assert len(listed.buttons) == 2
    cancel = listed.buttons[0][0]
    assert cancel.text.startswith("✕ Telegram · ")
    answer = await alice.press(listed, cancel.text)
    assert answer.text == "Alert cancelled."
    listed = await alice.wait_for(
        lambda m: m.message_id == listed.message_id and len(m.buttons) == 1
    )
    sandbox.set_stock("tg", first, 40)
    sandbox.set_stock("tg", second, 50)
    await alice.wait_for_message(lambda m: "has numbers in" in m.text and "50 left" in m.text)
    assert [m.text for m in alerts_of(alice) if "40 left" in m.text] == []
    await alice.send("/alerts")
    await alice.wait_for_message(lambda m: "You have no alerts" in m.text)
    telegram.assert_no_errors()


@FAST
async def test_insufficient_balance_leads_to_the_top_up_site(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    confirm = await confirmation(alice)
    sandbox.set_balance(alice.key, 0)
    await alice.press(confirm, "Buy")
    refused = await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "Not enough balance" in m.text
    )
    top_up = refused.button("Top up on jiema.my")
    assert (top_up.kind, top_up.value) == ("url", SITE)
    await alice.press(refused, "‹ Countries")
    listed = await alice.wait_for(
        lambda m: m.message_id == refused.message_id and "choose a country" in m.text
    )
    await alice.press(listed, listed.buttons[0][0].text)
    unaffordable = await alice.wait_for(
        lambda m: m.message_id == refused.message_id and "Confirm your purchase" in m.text
    )
    assert "Buy" not in labels(unaffordable)
    assert unaffordable.button("Top up on jiema.my").value == SITE
    await alice.send("/balance")
    balance = await alice.wait_for_message(lambda m: m.text.startswith("Balance:"))
    assert balance.button("Top up on jiema.my").value == SITE
    telegram.assert_no_errors()


async def buy_cheapest(user: FakeUser) -> None:
    confirm = await confirmation(user)
    await user.press(confirm, "Buy")
    await user.wait_for(
        lambda m: m.message_id == confirm.message_id and "Waiting for SMS" in m.text
    )


async def settled(user: FakeUser) -> None:
    """Wait until the bot has handled everything the user did (their updates run in order)."""
    await user.send("/balance")
    await user.wait_for_message(lambda m: m.text.startswith("Balance:"))


@FAST
async def test_heads_up_after_a_purchase_once_a_day(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    key: str = alice.key
    cheapest = in_stock(sandbox)[0]
    catalogue = sandbox.engine.catalogue
    service = catalogue.service("tg")
    assert service is not None
    price = next(o.price_cents for o in catalogue.offers(service) if o.country_id == cheapest)
    sandbox.set_balance(key, price * 2 + price // 2)
    await buy_cheapest(alice)  # one and a half prices left: no heads-up
    await settled(alice)
    assert alerts_of(alice, "Heads-up") == []
    await buy_cheapest(alice)  # half a price left
    hint = await alice.wait_for_message(lambda m: m.text.startswith("Heads-up"))
    assert hint.button("Top up on jiema.my").value == SITE
    sandbox.set_balance(key, price)
    await buy_cheapest(alice)  # nothing left, but the heads-up came today already
    await settled(alice)
    assert len(alerts_of(alice, "Heads-up")) == 1
    telegram.assert_no_errors()
