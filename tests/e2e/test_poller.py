"""The poller: codes pushed once and fast, within the API's limits, through faults."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from bot.sandbox.ratelimit import Bucket
from bot.sandbox.wire import order_json
from tests.e2e.conftest import Deployment, Linker, buy, sandbox_orders
from tests.e2e.harness import seed, shows_code

pytestmark = pytest.mark.in_process


def _create(sandbox: SandboxServer, key: str, count: int) -> list[dict[str, object]]:
    """Orders made directly in the sandbox (as if bought earlier), oldest first."""
    account = sandbox.engine.account_of_key(key)
    catalogue = sandbox.engine.catalogue
    service = catalogue.service("wa")
    assert service is not None
    stocked = [o for o in catalogue.offers(service) if o.stock > count]
    return [
        order_json(sandbox.engine.create_order(account, "wa", stocked[i % len(stocked)].country_id))
        for i in range(count)
    ]


@pytest.mark.bot_env(POLL_INTERVAL="0.5")
async def test_twenty_active_orders_on_one_key_stay_under_the_rate_limit(
    deployment: Deployment, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    key = sandbox.create_account(balance_cents=100_000)
    orders = _create(sandbox, key, 20)
    await seed(deployment.data_dir, 1001, key, orders)
    alice = telegram.user(1001, first_name="Alice")
    alice.chat.started = True  # she talked to the bot before this start
    await deployment.start()
    # The bot starts by posting a card for each order it tracks.
    await alice.wait_for(
        lambda m: sum(1 for x in alice.messages if "📱" in x.text) == 20, timeout=40
    )
    for index in (0, 7, 19):
        sandbox.deliver_sms(
            str(orders[index]["id"]), f"Your WhatsApp code: {index:03d}-{index:03d}"
        )
    for index in (0, 7, 19):
        code = f"{index:03d}{index:03d}"
        await alice.wait_for(partial(shows_code, code), timeout=15)
    stats = sandbox.stats()
    assert stats["rateLimited"] == 0
    assert sandbox.request_log.peak(key, Bucket.READ, 60) <= 40  # background share of 60/min
    telegram.assert_no_errors()


async def test_faults_mid_order_delay_the_code_but_never_lose_or_repeat_it(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    sandbox.inject_fault("error500", 4, path=f"/v1/orders/{order['id']}")
    sandbox.inject_fault("timeout", 1, path=f"/v1/orders/{order['id']}", seconds=1.0)
    sandbox.inject_fault("malformed", 1, path=f"/v1/orders/{order['id']}")
    sandbox.deliver_sms(order["id"], "Your code is 909090")
    await alice.wait_for_message(lambda m: "909090" in m.text, timeout=20)
    await alice.send("/start")
    await alice.wait_for_message(lambda m: "Hi, Alice" in m.text)
    assert sum("909090" in m.text for m in alice.messages if m.from_bot and "Code" in m.text) == 1
    telegram.assert_no_errors()


async def test_expiry_without_sms_tells_the_user_about_the_refund(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    sandbox.expire(order["id"])
    told = await alice.wait_for_message(lambda m: "before it expired" in m.text)
    assert "went back to your balance" in told.text
    await alice.wait_for(lambda m: m.message_id == card.message_id and "Cancelled" in m.text)
    assert sandbox.engine.account_of_key(alice.key).balance_cents == 2500
    telegram.assert_no_errors()


async def test_a_blocked_user_stalls_nobody_and_gets_the_code_when_back(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user(1001)
    bob = await linked_user(2002, first_name="Bob")
    await buy(alice)
    await buy(bob)
    [alices] = sandbox_orders(sandbox, alice.key)
    [bobs] = sandbox_orders(sandbox, bob.key)
    alice.block()
    sandbox.deliver_sms(alices["id"], "Your code is 101010")
    sandbox.deliver_sms(bobs["id"], "Your code is 202020")
    await bob.wait_for_message(lambda m: "202020" in m.text)
    # Telegram refuses anything sent to Alice now, so the code can only reach her after she
    # unblocks the bot; she does not even have to write to it first.
    alice.unblock()
    await alice.wait_for(lambda m: "101010" in m.text)
    # At most one send may have raced the block notice (and taught the bot the same thing).
    assert [r for r in telegram.errors if "blocked" not in (r.description or "")] == []


async def test_a_revoked_key_stops_polling_and_the_user_is_told_once(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    await buy(alice)
    sandbox.revoke_key(alice.key)
    await alice.wait_for_message(lambda m: "no longer accepts your API key" in m.text)
    reads = len(sandbox.request_log.for_key(alice.key))
    await alice.send("/help")
    await alice.wait_for_message(lambda m: "What I can do" in m.text)
    await asyncio.sleep(1.0)  # several poll intervals: nothing more may happen
    assert len(sandbox.request_log.for_key(alice.key)) == reads
    assert sum("no longer accepts" in m.text for m in alice.messages) == 1
    telegram.assert_no_errors()
