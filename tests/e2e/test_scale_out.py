"""Two replicas on one PostgreSQL database, in webhook mode behind a load balancer.

The strict fake Bot API delivers every update to the balancer's URL (the webhook both
replicas registered), and the balancer hands them round-robin to the replicas, as a load
balancer in front of a fleet would. Users must see exactly what one replica would show.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import buy, confirmation
from tests.e2e.fleet import (
    WEBHOOK_PATH,
    Fleet,
    balancer_for,
    codes,
    link,
    print_logs_if_failed,
    replicas_behind,
)
from tests.e2e.harness import WEBHOOK_SECRET, eventually


@pytest.fixture
async def fleet(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Fleet]:
    async with replicas_behind(balancer_for, telegram, sandbox, tmp_path) as (
        replicas,
        balancer,
        url,
    ):
        try:
            yield Fleet(replicas, balancer, url)
        finally:
            print_logs_if_failed(request, replicas, 15000)


async def test_a_user_served_by_both_replicas_sees_one_bot(
    fleet: Fleet, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    card = await buy(user)
    for replica in fleet.replicas:
        assert fleet.balancer.hits(replica.http_url) > 0, "both replicas handled updates"
    order_id = sandbox.orders(user.key)[0]["id"]
    sandbox.deliver_sms(order_id, "Your code is 481516")
    await user.wait_for_message(lambda m: "Code: 481516" in m.text, timeout=15)
    await user.press(card, "Refresh")
    await user.wait_for(lambda m: m.message_id == card.message_id and "SMS received" in m.text)
    assert codes(user, "481516") == 1
    telegram.assert_no_errors()


async def test_a_search_typed_on_one_replica_is_answered_by_the_other(
    fleet: Fleet, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    for _ in range(2):  # /buy and the search land on different replicas, whichever goes first
        await user.send("/buy")
        await user.wait_for_message(lambda m: "Choose a service" in m.text)
        await user.send("whats")
        found = await user.wait_for_message(lambda m: "matching “whats”" in m.text)
        assert found.button("WhatsApp") is not None


async def test_a_double_tap_split_across_replicas_buys_once(
    fleet: Fleet, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    confirm = await confirmation(user)
    data = confirm.button("Buy")[1]
    taps = {user.tap(confirm, data), user.tap(confirm, data)}

    def answers() -> dict[str, str]:
        return {
            c.params["callback_query_id"]: c.params.get("text") or ""
            for c in telegram.calls("answerCallbackQuery")
            if c.params.get("callback_query_id") in taps
        }

    await eventually(lambda: len(answers()) == 2, what="both taps answered")
    await user.wait_for(lambda m: m.message_id == confirm.message_id and "Waiting" in m.text)
    assert len(sandbox.orders(user.key)) == 1
    assert sorted(answers().values()) == [
        "",
        "This button was already used. Each confirmation buys once.",
    ]


async def test_cancel_and_refund_across_replicas(
    fleet: Fleet, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    card = await buy(user)
    await user.press(card, "Cancel order")
    await user.wait_for(lambda m: m.message_id == card.message_id and "Cancelled" in m.text)
    await user.send("/balance")
    await user.wait_for_message(lambda m: "Balance: $25.00" in m.text)


async def test_the_lease_holder_killed_its_keys_move_and_the_code_arrives_once(
    fleet: Fleet, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    await buy(user)
    name = f"poll:{user.id}"
    holder = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while holder is None and loop.time() < deadline:
        holder = await fleet.lease_holder(name)
        await asyncio.sleep(0.05)
    ids = fleet.replica_ids()
    assert holder in ids, f"lease of {name} held by a running replica"
    victim = ids[holder]
    await victim.kill()
    order_id = sandbox.orders(user.key)[0]["id"]
    sandbox.deliver_sms(order_id, "Your code is 271828")
    # How soon the keys move (the lease TTL plus one round) is pinned with a driven clock in
    # tests/test_poller_leases.py and measured by bench.scale_out; here: they move, once.
    await user.wait_for_message(lambda m: "Code: 271828" in m.text, timeout=20)
    survivor = next(r for r in fleet.replicas if r is not victim)
    assert await fleet.lease_holder(name) not in (None, holder)
    await asyncio.sleep(0)  # no second copy can be in flight: the delivery is recorded
    assert codes(user, "271828") == 1
    assert survivor.process is not None
    assert survivor.process.returncode is None


async def test_health_metrics_and_a_webhook_without_the_secret(fleet: Fleet) -> None:
    replica = fleet.replicas[0]
    health = await replica.get("/healthz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    metrics = (await replica.get("/metrics")).text
    for name in ("jiemabot_updates_total", "jiemabot_leased_keys", "jiemabot_active_orders"):
        assert name in metrics
    update = {
        "update_id": 999,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "text": "/start",
        },
    }
    async with httpx.AsyncClient() as client:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            refused = await client.post(
                replica.http_url + WEBHOOK_PATH, json=update, headers=headers
            )
            assert refused.status_code == 403
        accepted = await client.post(
            replica.http_url + WEBHOOK_PATH,
            json={"update_id": 1000},
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        )
        assert accepted.status_code == 200
