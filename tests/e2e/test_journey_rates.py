"""Delivery rates appear in the chat after enough orders, and the price guard."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.fakebotapi import FakeBotApi, FakeUser
from bot.fakebotapi.users import Predicate
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Linker, buy, confirmation, sandbox_orders

pytestmark = pytest.mark.in_process


def _saying(*parts: str) -> Predicate:
    """A message whose text holds every one of ``parts``."""
    return lambda message: all(part in message.text for part in parts)


async def _buy_and_settle(
    user: FakeUser, sandbox: SandboxServer, country: int, delivered: int, silent: int
) -> None:
    """Buy ``delivered + silent`` numbers of the ``country``-th cheapest country through the
    chat; the first ``delivered`` get an SMS, the others expire without one."""
    for _ in range(delivered + silent):
        await buy(user, country=country)
    orders = sandbox_orders(sandbox, user.key)[: delivered + silent]
    for n, order in enumerate(orders):
        if n < delivered:
            sandbox.deliver_sms(order["id"], f"Your Telegram code is {50000 + n}.")
        else:
            sandbox.expire(order["id"])
    for n, order in enumerate(orders):
        if n < delivered:
            await user.wait_for_message(_saying(f"{50000 + n}"), timeout=30)
        else:
            await user.wait_for_message(
                _saying("before it expired", str(order["phone"])), timeout=30
            )


# The harness polls every 0.25 s; with several orders per key that would spend the key's
# background reads and leave the poller waiting for the minute's window.
production_poller = pytest.mark.bot_env(POLL_INTERVAL="3")


def _country_labels(message: object) -> list[str]:
    return [row[0].text for row in message.buttons if row[0].value.startswith("c:")]  # type: ignore[attr-defined]


@production_poller
async def test_rates_appear_after_five_orders_and_are_shared_by_all_users(
    bot: object, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user(1001, first_name="Alice")
    bob = await linked_user(2002, first_name="Bob")
    carol = await linked_user(3003, first_name="Carol")
    dave = await linked_user(4004, first_name="Dave")
    # Users buy side by side (each chat has its own pace): 4 orders here, no rate yet.
    await asyncio.gather(
        _buy_and_settle(alice, sandbox, 0, delivered=2, silent=0),
        _buy_and_settle(carol, sandbox, 0, delivered=1, silent=1),
    )
    countries = await _countries(alice)
    assert not any("📩" in label for label in _country_labels(countries))

    await asyncio.gather(
        _buy_and_settle(bob, sandbox, 0, delivered=1, silent=0),  # the fifth: 4 of 5
        _buy_and_settle(carol, sandbox, 1, delivered=0, silent=3),  # none of 5: poor
        _buy_and_settle(dave, sandbox, 1, delivered=0, silent=2),
    )

    labels = _country_labels(await _countries(alice))
    assert labels[0].endswith("📩 80%"), labels[0]
    assert labels[1].endswith("📩 ⚠️ 0%"), labels[1]
    assert all("📩" not in label for label in labels[2:])

    confirm = await confirmation(alice, country=0)
    assert "80% of recent orders here got an SMS, usually within 15 seconds." in confirm.text
    poor = await confirmation(alice, country=1)
    assert "⚠️ 0% of recent orders here got an SMS." in poor.text
    telegram.assert_no_errors()


async def _countries(user: FakeUser) -> object:
    await user.send("/buy")
    screen = await user.wait_for_message(lambda m: "Choose a service" in m.text)
    await user.press(screen, "Telegram")
    return await user.wait_for(
        lambda m: m.message_id == screen.message_id and "choose a country" in m.text
    )


async def test_a_price_raised_before_buy_is_refused_and_the_new_price_offered(
    bot: object, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user(balance_cents=2500)
    confirm = await confirmation(alice, country=0)
    shown = re.search(r"Price: \$(\d+)\.(\d\d)", confirm.text)
    assert shown is not None
    cents = int(shown[1]) * 100 + int(shown[2])
    country = _country_of(sandbox, confirm.text)
    sandbox.set_price("tg", country, cents + 5)

    await alice.press(confirm, "Buy")
    offered = await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "The price went up" in m.text
    )
    new_price = f"${(cents + 5) // 100}.{(cents + 5) % 100:02d}"
    assert f"from ${cents // 100}.{cents % 100:02d} to {new_price}" in offered.text
    assert "you have not paid anything" in offered.text
    assert f"Price: {new_price}" in offered.text
    [refused] = sandbox_orders(sandbox, alice.key)
    assert refused["status"] == "CANCELLED"
    assert sandbox.engine.account_of_key(alice.key).balance_cents == 2500

    await alice.press(offered, "Buy")
    card = await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and "Waiting for SMS" in m.text
    )
    assert new_price in card.text
    assert sandbox.engine.account_of_key(alice.key).balance_cents == 2500 - cents - 5
    telegram.assert_no_errors()


def _country_of(sandbox: SandboxServer, text: str) -> int:
    """The sandbox's id of the country a confirmation names."""
    named = re.search(r"Country: \S+ (.+)", text)
    assert named is not None, text
    [country] = [c.id for c in sandbox.engine.catalogue.countries if c.name == named[1].strip()]
    return country
