"""One test per protection of issue 10, each against the bot process behind the proxies.

Each fails without its protection: the old bot re-sent a code whose answer was lost at every
poll tick (5 copies in 12 s), sent nothing of what failed during an outage until a tick
happened to retry it, and paused every chat on one chat's 429 or stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from functools import partial
from pathlib import Path

from bot.fakebotapi import FakeBotApi, FakeUser
from bot.sandbox import SandboxServer
from tests.chaos.conftest import TELEGRAM_TIMEOUT, rss_mb
from tests.chaos.proxy import ChaosProxy, Fault, Seen
from tests.e2e.conftest import Linker, buy, sandbox_orders
from tests.e2e.harness import BotProcess, eventually


def _pushes(user: FakeUser, needle: str) -> list[str]:
    return [
        m.text for m in user.messages if m.from_bot and "SMS for" in m.text and needle in m.text
    ]


def _card(user: FakeUser) -> str:
    return next(m.text for m in user.messages if m.from_bot and "📱" in m.text)


def _recorded(data_dir: Path) -> int:
    """SMS the poller has recorded for delivery."""
    with contextlib.closing(sqlite3.connect(data_dir / "bot.sqlite3", timeout=5)) as db:
        return int(db.execute("SELECT COUNT(*) FROM sms_deliveries").fetchone()[0])


def _outbox_done(data_dir: Path, codes: int) -> bool:
    """All ``codes`` SMS are recorded, and each is sent or given up."""
    with contextlib.closing(sqlite3.connect(data_dir / "bot.sqlite3", timeout=5)) as db:
        rows = db.execute("SELECT state, given_up FROM sms_deliveries").fetchall()
    return len(rows) == codes and all(state == "sent" or given_up for state, given_up in rows)


async def test_answers_lost_after_delivery_cost_one_repeat_and_the_card_shows_the_code(
    deployment: BotProcess, tg_proxy: ChaosProxy, sandbox: SandboxServer, linked_user: Linker
) -> None:
    await deployment.start()
    alice = await linked_user()
    await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    tg_proxy.inject(Fault.DROP_AFTER, 20, match="sendMessage")  # every answer lost
    sandbox.deliver_sms(order["id"], "Your code is 515151")
    await eventually(lambda: _outbox_done(deployment.data_dir, 1), within=30, what="given up")
    await eventually(lambda: "🔑 515151" in _card(alice), within=30, what="code on the card")
    assert len(_pushes(alice, "515151")) == 2
    assert tg_proxy.count(Fault.DROP_AFTER, "sendMessage") == 2


async def test_after_an_outage_codes_arrive_in_sms_order_with_one_edit_per_card(
    deployment: BotProcess,
    tg_proxy: ChaosProxy,
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    linked_user: Linker,
) -> None:
    await deployment.start()
    alice = await linked_user()
    await buy(alice, country=0)
    await buy(alice, country=1)
    second, first = sandbox_orders(sandbox, alice.key)
    await tg_proxy.down()
    codes = ["100001", "200001", "100002", "200002"]
    for order, code in zip([first, second, first, second], codes, strict=True):
        sandbox.deliver_sms(order["id"], f"Your code is {code}")
        await asyncio.sleep(0.01)  # the SMS arrive one after another (receivedAt has ms)
    # The poller records the SMS while Telegram is unreachable (nothing is sent). Every one
    # must be recorded before Telegram is back: the order list lags, so a code not yet seen
    # could otherwise be sent after a later one of the other order (nothing the bot knew).
    await eventually(lambda: _recorded(deployment.data_dir) == 4, within=20, what="4 recorded")
    await eventually(
        lambda: deployment.log().count("Refused") >= 2, within=20, what="failed sends logged"
    )
    edits_before = len(telegram.calls("editMessageText"))
    await tg_proxy.up()
    await eventually(lambda: len(_pushes(alice, "")) == 4, within=40, what="four codes")
    assert [text.split("is ")[-1] for text in _pushes(alice, "")] == codes
    await eventually(lambda: _outbox_done(deployment.data_dir, 4), within=20, what="outbox done")
    cards = [m for m in alice.messages if m.from_bot and "📱" in m.text]
    await eventually(
        lambda: all("🔑 100002" in c.text or "🔑 200002" in c.text for c in cards),
        within=30,
        what="cards redrawn",
    )
    edits = telegram.calls("editMessageText")[edits_before:]
    per_card: dict[str, int] = {}
    for edit in edits:
        per_card[edit.params["message_id"]] = per_card.get(edit.params["message_id"], 0) + 1
    assert sorted(per_card.values()) == [1, 1], per_card  # stale edits collapsed
    assert [r for r in telegram.requests if r.status == 429] == []


async def test_a_chat_whose_sends_stall_does_not_delay_another_users_code(
    deployment: BotProcess, tg_proxy: ChaosProxy, sandbox: SandboxServer, linked_user: Linker
) -> None:
    await deployment.start()
    alice = await linked_user(1001)
    bob = await linked_user(2002, first_name="Bob")
    await buy(alice)
    await buy(bob)
    [alices] = sandbox_orders(sandbox, alice.key)
    [bobs] = sandbox_orders(sandbox, bob.key)

    def to_alice(seen: Seen) -> bool:
        return seen.path.endswith("sendMessage") and seen.names_chat(1001)

    tg_proxy.inject(Fault.STALL, 1, match=to_alice)
    sandbox.deliver_sms(alices["id"], "Your code is 616161")
    await eventually(lambda: tg_proxy.count(Fault.STALL) == 1, within=10, what="Alice stalls")
    sandbox.deliver_sms(bobs["id"], "Your code is 626262")
    await bob.wait_for_message(lambda m: "626262" in m.text, timeout=TELEGRAM_TIMEOUT + 2)
    assert _pushes(alice, "616161") == []
    await alice.wait_for_message(lambda m: "616161" in m.text, timeout=40)
    assert len(_pushes(alice, "616161")) == 1  # the stalled send was never forwarded


async def test_a_hung_get_updates_is_given_up_and_polling_restarts(
    deployment: BotProcess, tg_proxy: ChaosProxy, telegram: FakeBotApi
) -> None:
    await deployment.start()
    tg_proxy.inject(Fault.STALL, 1, match="getUpdates", seconds=120)
    await eventually(lambda: tg_proxy.count(Fault.STALL) == 1, within=15, what="a poll hangs")
    alice = telegram.user(1001, first_name="Alice")
    await alice.send("/start")
    # The hung poll fails after TELEGRAM_TIMEOUT plus its 10 s long poll; the next one
    # fetches the update.
    await alice.wait_for_message(lambda m: "Hi, Alice" in m.text, timeout=TELEGRAM_TIMEOUT + 14)
    assert "Traceback" not in deployment.log()


async def test_a_long_outage_keeps_memory_flat_and_recovery_makes_no_429_storm(
    deployment: BotProcess,
    tg_proxy: ChaosProxy,
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    linked_user: Linker,
) -> None:
    # The production pace: at 0.25 s the keys would spend their API read budget and the
    # poller would wait for it, which is not what this test is about.
    deployment.env["POLL_INTERVAL"] = "2"
    await deployment.start()
    assert deployment.process is not None
    users = [await linked_user(1001 + i, first_name=f"User{i}") for i in range(3)]
    for user in users:
        await buy(user, country=0)
        await buy(user, country=1)
    await tg_proxy.down()
    before = rss_mb(deployment.process.pid)
    sent: dict[int, list[str]] = {user.id: [] for user in users}
    for round_ in range(4):  # SMS keep arriving for every order while Telegram is down
        for user in users:
            for order in reversed(sandbox_orders(sandbox, user.key)):
                code = f"{user.id % 100}{round_}{len(sent[user.id]):03d}"
                sandbox.deliver_sms(order["id"], f"Your code is {code}")
                sent[user.id].append(code)
                await asyncio.sleep(0.01)  # one after another (receivedAt has ms)
        await eventually(
            partial(_recorded_is, deployment.data_dir, 6 * (round_ + 1)),
            within=30,
            what=f"round {round_} recorded while Telegram is down",
        )
    after = rss_mb(deployment.process.pid)
    await tg_proxy.up()
    for user in users:
        await eventually(partial(_pushed, user, 8), within=60, what=f"{user.id}: 8 codes")
        assert [t.split("is ")[-1] for t in _pushes(user, "")] == sent[user.id]
    assert [r for r in telegram.requests if r.status == 429] == []
    assert after - before < 15, (before, after)  # nothing piles up in memory per failed send


def _recorded_is(data_dir: Path, count: int) -> bool:
    return _recorded(data_dir) == count


def _pushed(user: FakeUser, count: int) -> bool:
    """Has ``user`` got ``count`` code messages?"""
    return len(_pushes(user, "")) == count
