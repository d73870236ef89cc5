"""Automatic replacement, end to end: the real bot process, the sandbox (its numbers never
get an SMS unless the test delivers one) and the strict fake Bot API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, confirmation, sandbox_orders
from tests.e2e.fleet import balancer_for, replicas_behind
from tests.e2e.harness import BotProcess, eventually

# A number is replaced after 3 s without an SMS (the job looks every 0.6 s).
ENV = {"REPLACE_AFTER": "0.05", "REPLACE_MAX": "3"}
pytestmark = pytest.mark.bot_env(**ENV)


async def buy_with_auto_replace(user: FakeUser) -> ChatMessage:
    """The confirmation's switch turned on, then Buy: the order card."""
    confirm = await confirmation(user)
    answer = await user.press(confirm, "🔁 Auto-replace: off")
    assert answer.text == "🔁 Auto-replace: on"
    confirm = await user.wait_for(
        lambda m: m.message_id == confirm.message_id and "🔁 Auto-replace: on" in labels(m)
    )
    await user.press(confirm, "Buy")
    return await user.wait_for(
        lambda m: m.message_id == confirm.message_id and "Waiting for SMS" in m.text
    )


def labels(message: ChatMessage) -> list[str]:
    return [button.text for row in message.buttons for button in row]


def statuses(sandbox: SandboxServer, key: str) -> list[str]:
    return [o["status"] for o in sandbox_orders(sandbox, key)]


def announcements(user: FakeUser) -> list[ChatMessage]:
    return [m for m in user.messages if m.from_bot and "New number for" in m.text]


def balance(sandbox: SandboxServer, key: str) -> int:
    return sandbox.engine.account_of_key(key).balance_cents


@pytest.mark.in_process
async def test_a_silent_number_is_refunded_replaced_and_its_code_delivered_once(
    bot: Deployment, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    key: str = alice.key
    card = await buy_with_auto_replace(alice)
    [first] = sandbox_orders(sandbox, key)
    price = int(first["chargedCents"])
    assert "🔁 Auto-replace: on" in labels(card)
    announced = await alice.wait_for_message(lambda m: "New number for" in m.text, timeout=30)
    orders = sandbox_orders(sandbox, key)
    new: dict[str, Any] = orders[0]
    assert [o["status"] for o in orders] == ["WAITING", "CANCELLED"]
    assert new["phone"] in announced.text
    assert first["phone"] in announced.text
    assert balance(sandbox, key) == 2500 - price  # the first refunded, the second charged
    sandbox.deliver_sms(new["id"], "Your code is 771177")
    await alice.wait_for(lambda m: "Code: 771177" in m.text, timeout=15)
    # The card (the same message) now shows the new number and what happened.
    card = await alice.wait_for(
        lambda m: m.message_id == card.message_id and new["phone"] in m.text and "771177" in m.text
    )
    assert f"{first['phone']} got no SMS: refunded and replaced." in card.text
    assert "Auto-replacements left: 2" in card.text
    await eventually(lambda: statuses(sandbox, key)[0] == "RECEIVED", what="the SMS read")
    pushed = [m for m in alice.messages if m.from_bot and "Code: 771177" in m.text]
    assert len(pushed) == 1
    assert len(announcements(alice)) == 1
    assert len(sandbox_orders(sandbox, key)) == 2  # the one with an SMS is never replaced


async def test_a_sigkill_mid_swap_neither_cancels_nor_buys_twice(
    deployment: BotProcess, sandbox: SandboxServer, linked_user: Linker
) -> None:
    await deployment.start()
    alice = await linked_user()
    key: str = alice.key
    await buy_with_auto_replace(alice)
    [first] = sandbox_orders(sandbox, key)
    # The cancel reaches the API (the refund happens) and its answer is held: the bot is
    # killed before it learns that the refund went through.
    sandbox.inject_fault("timeout", 1, path=f"/v1/orders/{first['id']}/cancel")
    cancels = f"/v1/orders/{first['id']}/cancel"
    await eventually(
        lambda: any(r.path.endswith(cancels) for r in sandbox.request_log),
        within=30,
        what="the swap's cancel sent",
    )
    await deployment.kill()
    assert statuses(sandbox, key) == ["CANCELLED"]
    await deployment.start()
    await alice.wait_for(lambda m: "New number for" in m.text, timeout=30)
    orders = sandbox_orders(sandbox, key)
    assert [o["status"] for o in orders] == ["WAITING", "CANCELLED"]
    assert balance(sandbox, key) == 2500 - int(orders[0]["chargedCents"])
    sandbox.deliver_sms(orders[0]["id"], "Your code is 662266")
    await alice.wait_for(lambda m: "Code: 662266" in m.text, timeout=15)
    await eventually(lambda: statuses(sandbox, key)[0] == "RECEIVED", what="the SMS read")
    assert len(sandbox_orders(sandbox, key)) == 2
    assert len([m for m in alice.messages if m.from_bot and "Code: 662266" in m.text]) == 1


async def test_two_replicas_replace_a_silent_number_once(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with replicas_behind(balancer_for, telegram, sandbox, tmp_path, extra_env=ENV):
        key = sandbox.create_account(balance_cents=2500, display_name="Alice")
        alice = telegram.user(1001, first_name="Alice", language_code="en")
        await alice.send(f"/link {key}")
        await alice.wait_for_message(lambda m: "Key linked" in m.text)
        await buy_with_auto_replace(alice)
        await alice.wait_for(lambda m: "New number for" in m.text, timeout=30)
        orders = sandbox_orders(sandbox, key)
        sandbox.deliver_sms(orders[0]["id"], "Your code is 553355")
        await alice.wait_for(lambda m: "Code: 553355" in m.text, timeout=15)
        await eventually(lambda: statuses(sandbox, key)[0] == "RECEIVED", what="the SMS read")
        assert statuses(sandbox, key) == ["RECEIVED", "CANCELLED"]
        cancels = [r for r in sandbox.request_log if r.path.endswith("/cancel")]
        assert len(cancels) == 1
        assert len(announcements(alice)) == 1
        assert len([m for m in alice.messages if m.from_bot and "Code: 553355" in m.text]) == 1


@pytest.mark.bot_env(**ENV, POLL_INTERVAL="30")
@pytest.mark.in_process
async def test_an_sms_arriving_mid_swap_keeps_the_order_and_its_code(
    deployment: Deployment, sandbox: SandboxServer, linked_user: Linker
) -> None:
    # The poller reads the order only every 30 s: the SMS is seen first by the swap, whose
    # cancel is refused with CODE_RECEIVED (or, now and then, by the poller: no swap then).
    await deployment.start()
    alice = await linked_user()
    key: str = alice.key
    await buy_with_auto_replace(alice)
    [first] = sandbox_orders(sandbox, key)
    sandbox.deliver_sms(first["id"], "Your code is 909090")
    await alice.wait_for(lambda m: "Code: 909090" in m.text, timeout=40)
    cancels = [r for r in sandbox.request_log if r.path.endswith(f"{first['id']}/cancel")]
    assert [r.status for r in cancels] in ([], [400])  # refused: the SMS came first
    assert len(sandbox_orders(sandbox, key)) == 1  # nothing bought
    assert announcements(alice) == []
    assert len([m for m in alice.messages if m.from_bot and "Code: 909090" in m.text]) == 1
