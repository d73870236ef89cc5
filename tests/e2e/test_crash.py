"""SIGKILL at random points: no order the API made is lost, no code is pushed twice."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime
from functools import partial

import pytest

from bot.fakebotapi import FakeBotApi, FakeUser
from bot.sandbox import SandboxServer
from bot.store import Store
from tests.e2e.conftest import buy, sandbox_orders
from tests.e2e.harness import BotProcess, delivery_recorded, eventually, seed, shows_code


async def _link(user: FakeUser, key: str) -> None:
    await user.send(f"/link {key}")
    await user.wait_for_message(lambda m: "Key linked" in m.text)


@pytest.mark.timeout(240)  # a card whose edit a kill left claimed waits out its lease
async def test_sigkill_during_buying_and_polling_loses_nothing(
    deployment: BotProcess, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    rng = random.Random(20261125)
    key = sandbox.create_account(balance_cents=100_000, display_name="Alice")
    alice = telegram.user(1001, first_name="Alice")
    await deployment.start()
    await _link(alice, key)
    codes: list[str] = []
    for round_ in range(5):
        # Start buying, and kill the bot somewhere in the middle of it (or of polling).
        flow = asyncio.create_task(buy(alice))
        await asyncio.sleep(rng.uniform(0.0, 0.5))  # the kill point, not a wait for anything
        await deployment.kill()
        flow.cancel()
        with contextlib.suppress(BaseException):
            await flow
        await deployment.start()
        # Orders made before the kill get a code now; each must reach the chat once.
        for order in sandbox_orders(sandbox, key):
            if order["status"] == "WAITING" and not order["smsHistory"]:
                code = f"{round_}{len(codes):05d}"
                sandbox.deliver_sms(order["id"], f"Your code is {code}")
                codes.append(code)
                # A purchase the kill cut short is found by the reconcile, whose lease the
                # killed process may hold for up to LEASE_TTL (10 s) more: hence 30 s.
                await alice.wait_for(partial(shows_code, code), timeout=30)
                # A kill in the instant between Telegram taking the message and the bot
                # recording it would send it again after restart (a duplicate is chosen
                # over a loss; see README). Kill points are elsewhere: wait for the record.
                await eventually(
                    partial(delivery_recorded, deployment.data_dir, order["id"], 0),
                    what=f"delivery of {code} recorded",
                )
    # Whatever was killed mid-way, the next purchase works end to end.
    card = await buy(alice)
    assert "Waiting for SMS" in card.text
    pushed = [m.text for m in alice.messages if m.from_bot and "Code:" in m.text]
    for code in codes:
        assert sum(f"Code: {code}" in text for text in pushed) == 1, code

    # Every order the API created is tracked by the bot: its card reaches the chat. A card
    # posted in the background yields the chat's pace (about a message a second) to the
    # user's own taps, so one found by the reconcile may come just after the last purchase.
    def carded(phone: str) -> bool:
        return any(m.from_bot and "📱" in m.text and phone in m.text for m in alice.messages)

    # A kill between claiming a card's edit and recording it leaves the card to be redrawn
    # when the claim's lease ends (CARD_CLAIM, a minute; the outbox looks every round).
    for order in sandbox_orders(sandbox, key):
        await eventually(
            partial(carded, order["phone"]), within=75, what=f"the card of {order['id']}"
        )
    # What a kill may leave behind, and the restarted bot copes with: Telegram asking it to
    # slow down (it does not know how fast its predecessor was sending; PTB waits and
    # retries), and a card edit the killed process made but never recorded (redrawn once,
    # refused as unchanged). Nothing else may have been refused.
    assert [
        r
        for r in telegram.errors
        if r.status != 429 and "message is not modified" not in (r.description or "")
    ] == []


async def test_a_code_claimed_but_not_sent_before_a_crash_is_sent_once_at_start(
    deployment: BotProcess, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    key = sandbox.create_account()
    account = sandbox.engine.account_of_key(key)
    service = sandbox.engine.catalogue.service("tg")
    assert service is not None
    offer = next(o for o in sandbox.engine.catalogue.offers(service) if o.stock > 0)
    view = sandbox.engine.create_order(account, "tg", offer.country_id)
    order = sandbox.orders(key)[0]
    await seed(deployment.data_dir, 1001, key, [order])
    sandbox.deliver_sms(view.order.id, "Your code is 606060")
    # The state a crash leaves right after the claim: position 0 claimed, not sent.
    store = await Store.open(deployment.data_dir / "bot.sqlite3")
    try:
        assert await store.claim_delivery(order["id"], 0, "Your code is 606060", datetime.now(UTC))
        await store.set_sms_seen(order["id"], 1)
    finally:
        await store.close()
    alice = telegram.user(1001, first_name="Alice")
    alice.chat.started = True
    await deployment.start()
    await alice.wait_for(lambda m: "Code: 606060" in m.text)
    await deployment.restart()
    await alice.send("/help")
    await alice.wait_for_message(lambda m: "What I can do" in m.text)
    assert sum("Code: 606060" in m.text for m in alice.messages) == 1
    telegram.assert_no_errors()
