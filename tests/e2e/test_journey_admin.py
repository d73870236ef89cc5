"""The operator's console (issue 15) against the bot process: /stats and /broadcast."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections import Counter

import pytest

from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, buy, sandbox_orders
from tests.e2e.harness import BotProcess, eventually

pytestmark = pytest.mark.in_process

ADMIN = 1001
admins = pytest.mark.bot_env(ADMIN_IDS=f"{ADMIN}, 424242")

ANNOUNCEMENT = "<b>Maintenance</b> tonight at 22:00 UTC: codes keep coming."
SHOWN = "Maintenance tonight at 22:00 UTC: codes keep coming."
RATE = 20  # announcements per second at most (bot.broadcaster.DEFAULT_RATE)


def announcements(user: FakeUser) -> list[ChatMessage]:
    return [m for m in user.messages if m.text == SHOWN]


def unexpected_errors(telegram: FakeBotApi) -> list[str]:
    """Errors the bot was answered, but for command menus: languages the fake does not know,
    and operators' chats that do not exist yet (the operator never opened the chat)."""
    return [str(r) for r in telegram.errors if r.method != "setMyCommands"]


def blocked_users(bot: Deployment) -> int:
    with contextlib.closing(sqlite3.connect(bot.data_dir / "bot.sqlite3", timeout=5)) as db:
        row = db.execute("SELECT COUNT(*) FROM users WHERE chat_active = 0").fetchone()
    return int(row[0])


def recipient_states(bot: Deployment) -> Counter[str]:
    with contextlib.closing(sqlite3.connect(bot.data_dir / "bot.sqlite3", timeout=5)) as db:
        rows = db.execute("SELECT state FROM broadcast_recipients").fetchall()
    return Counter(state for (state,) in rows)


@admins
async def test_for_others_the_console_does_not_exist(bot: Deployment, telegram: FakeBotApi) -> None:
    admin = telegram.user(ADMIN, first_name="Olga")
    bob = telegram.user(2002, first_name="Bob")
    for command in ("/stats", "/broadcast", "/broadcast <b>hi</b> everyone"):
        await bob.send(command)
        await bob.wait_for_message(lambda m: "I didn't get that" in m.text)
    await bob.send("hello")  # not taken for an announcement
    await bob.wait_for_message(lambda m: "I didn't get that" in m.text)
    # The operator's buttons, replayed by Bob, do nothing.
    await admin.send("/stats")
    await admin.wait_for_message(lambda m: "Statistics" in m.text)
    await admin.send("/broadcast <b>Hello</b> everyone")
    confirm = await admin.wait_for_message(lambda m: "Send it to" in m.text)
    replayed = bob.messages[-1]
    for data in ("ad:r", confirm.button("Send").value, confirm.button("Cancel").value):
        assert data is not None
        answer = await bob.forge_press(replayed, data)
        assert answer.text is None
    assert not [m for m in bob.messages if "Statistics" in m.text or "Sending" in m.text]
    assert recipient_states(bot) == Counter()  # nothing was started
    assert "Send it to" in confirm.text  # the draft is still the operator's to send
    await admin.press(confirm, "Cancel")
    await admin.wait_for(lambda m: m.message_id == confirm.message_id and "Dropped" in m.text)
    assert unexpected_errors(telegram) == []


@admins
async def test_the_operators_menu_has_the_console(
    deployment: Deployment, telegram: FakeBotApi
) -> None:
    await deployment.start()
    admin = telegram.user(ADMIN, first_name="Olga", language_code="en")
    await admin.send("/start")
    await admin.wait_for_message()
    await deployment.restart()  # the menus are set at start, for operators who opened the chat
    scope = {"type": "chat", "chat_id": ADMIN}
    names = [c["command"] for c in telegram.commands(scope)]
    assert names[-2:] == ["stats", "broadcast"]
    assert "stats" not in [c["command"] for c in telegram.commands()]
    await admin.send("/language")
    menu = await admin.wait_for_message(lambda m: bool(m.buttons))
    await admin.press(menu, "Русский")
    await eventually(
        lambda: (
            [c["command"] for c in telegram.commands(scope)][-2:] == ["stats", "broadcast"]
            and telegram.commands(scope)[0]["description"] != "Buy a number for a service"
        ),
        what="the operator's menu in Russian, console included",
    )


@admins
async def test_stats_show_what_happened(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    admin = await linked_user(ADMIN, first_name="Olga")
    card = await buy(admin)
    [order] = sandbox_orders(sandbox, admin.key)
    sandbox.deliver_sms(order["id"], "Your code is 424242")
    await admin.wait_for_message(lambda m: "Code: 424242" in m.text)
    bob = telegram.user(2002, first_name="Bob")
    await bob.send("/start")
    await bob.wait_for_message()
    await bob.send("/link jm_" + "x" * 30)  # a key jiema.my does not know: one 401
    await bob.wait_for_message(lambda m: "refused" in m.text)
    carol = telegram.user(3003, first_name="Carol")
    await carol.send("/start")
    await carol.wait_for_message()
    carol.block()
    await eventually(lambda: blocked_users(bot) == 1, what="Carol's block seen")
    refused = len(telegram.errors)  # the menus of chats and languages Telegram refused
    await admin.send("/stats")
    screen = await admin.wait_for_message(lambda m: "Statistics" in m.text)
    text = screen.text
    assert "Users: 3 · linked key 1 · active 3 · blocked the bot 1" in text
    assert "Active orders: 1 · pending deliveries: 0" in text
    assert "Orders bought: 1 · codes delivered: 1" in text
    latency = re.search(r"Code to chat: median ([\d,]+) ms · p95 ([\d,]+) ms", text)
    assert latency is not None, text
    assert latency.group(1) == latency.group(2)  # one code
    assert int(latency.group(1).replace(",", "")) < 10_000
    assert f"jiema errors: 1 · 429s: 0 · Telegram errors: {refused}" in text
    assert re.search(r"polls 1 keys, serving \d+ users.* \(this one\)", text)
    assert card.message_id != screen.message_id
    await admin.press(screen, "Refresh")  # answered: redrawn in place (if anything moved)
    assert [m.message_id for m in admin.messages if "Statistics" in m.text] == [screen.message_id]
    assert unexpected_errors(telegram) == []


async def _audience(telegram: FakeBotApi, count: int) -> list[FakeUser]:
    """``count`` users who opened the chat (sent /settings, which costs no API call)."""
    users = [telegram.user(5000 + n, first_name=f"U{n}") for n in range(count)]
    await asyncio.gather(*(u.send("/settings") for u in users))
    for user in users:
        await user.wait_for_message(lambda m: "Settings" in m.text, timeout=60)
    return users


async def _announce(admin: FakeUser, expected_recipients: int) -> ChatMessage:
    """/broadcast, the text, the preview checked, Send pressed; the progress message."""
    await admin.send("/broadcast")
    await admin.wait_for_message(lambda m: "Send me the announcement" in m.text)
    await admin.send(ANNOUNCEMENT)
    preview = await admin.wait_for_message(lambda m: m.text == SHOWN)
    assert preview.entity_texts("bold") == ["Maintenance"]
    assert [[b.text for b in row] for row in preview.buttons] == [["Mute announcements"]]
    confirm = await admin.wait_for_message(lambda m: "Send it to" in m.text)
    assert f"Send it to {expected_recipients} users?" in confirm.text
    await admin.press(confirm, "Send")
    return confirm


@admins
async def test_a_broadcast_reaches_each_reachable_user_once_within_the_pace(
    bot: Deployment, telegram: FakeBotApi
) -> None:
    admin = telegram.user(ADMIN, first_name="Olga")
    await admin.send("/start")
    await admin.wait_for_message()
    users = await _audience(telegram, 200)
    blocked, muted, gone = users[:3], users[3], users[4]
    for user in blocked:
        user.block()
    settings = muted.messages[-1]
    await muted.press(settings, "Mute announcements")
    await muted.wait_for(lambda m: "Announcements from the bot's operator: off" in m.text)
    gone.deactivate()  # the bot is not told: its send fails
    await eventually(lambda: blocked_users(bot) == 3, what="the blocks seen by the bot")
    # Broken HTML never reaches anyone: Telegram's own check, in the preview, says why.
    await admin.send("/broadcast <b>Maintenance tonight")
    refused = await admin.wait_for_message(lambda m: "Telegram refused this text" in m.text)
    assert "Can't parse entities" in refused.text

    progress = await _announce(admin, 200 + 1 - 3 - 1)
    report = await admin.wait_for_message(lambda m: "Broadcast finished" in m.text, timeout=60)
    assert "Sent: 196 · blocked: 1 · failed: 0" in report.text
    final = await admin.wait_for(
        lambda m: m.message_id == progress.message_id and "Announcement sent." in m.text
    )
    assert final.buttons == []
    for user in users:
        expected = 0 if user in (*blocked, muted, gone) else 1
        assert len(announcements(user)) == expected, user.id
    assert len(announcements(admin)) == 2  # the preview, and its copy as a user
    assert recipient_states(bot) == Counter(sent=196, blocked=1)

    sends = sorted(
        c.received_at
        for c in telegram.calls("sendMessage")
        if c.ok and "Maintenance" in c.params.get("text", "")
    )[1:]  # not the preview
    assert len(sends) == 196
    busiest = max(sum(1 for s in sends if start <= s < start + 1.0) for start in sends)
    assert busiest <= RATE + 1, f"{busiest} announcements in one second"
    assert sends[-1] - sends[0] >= (len(sends) - RATE) / RATE - 1

    # Mute under an announcement, then /settings turns them back on.
    listener = users[10]
    answer = await listener.press(announcements(listener)[0], "Mute announcements")
    assert "/settings" in (answer.text or "")
    await listener.send("/settings")
    screen = await listener.wait_for_message(lambda m: "operator: off" in m.text)
    await listener.press(screen, "Turn announcements on")
    await listener.wait_for(lambda m: "operator: on" in m.text)
    errors = unexpected_errors(telegram)
    assert len(errors) == 2, errors  # the two the test provoked, and nothing else
    assert "can't parse entities" in errors[0]
    assert "user is deactivated" in errors[1]


@admins
@pytest.mark.bot_process  # SIGKILL needs a real process
async def test_a_broadcast_survives_sigkill_and_nobody_gets_it_twice(
    bot: BotProcess, telegram: FakeBotApi
) -> None:
    admin = telegram.user(ADMIN, first_name="Olga")
    await admin.send("/start")
    await admin.wait_for_message()
    users = await _audience(telegram, 200)
    await _announce(admin, 201)
    await eventually(
        lambda: sum(len(announcements(u)) for u in users) >= 60, within=30, what="60 sent"
    )
    await bot.kill()
    before = sum(len(announcements(u)) for u in users)
    assert before < 190, "the broadcast was over before the kill"
    await bot.start()
    report = await admin.wait_for_message(lambda m: "Broadcast finished" in m.text, timeout=90)
    counts = Counter(len(announcements(u)) for u in users)
    assert max(counts) == 1, f"someone got it twice: {counts}"
    states = recipient_states(bot)
    # At most the one send in flight at the kill is unconfirmed; it is never sent again.
    assert states["unknown"] <= 1
    assert states["sent"] + states["unknown"] == 201
    assert counts[0] <= states["unknown"]
    if states["unknown"]:
        assert "were being sent when the bot stopped" in report.text
    assert unexpected_errors(telegram) == []


@admins
async def test_the_operator_can_stop_a_running_broadcast(
    bot: Deployment, telegram: FakeBotApi
) -> None:
    admin = telegram.user(ADMIN, first_name="Olga")
    await admin.send("/start")
    await admin.wait_for_message()
    users = await _audience(telegram, 100)
    progress = await _announce(admin, 101)
    await eventually(lambda: sum(len(announcements(u)) for u in users) >= 20, what="20 sent")
    await admin.press(progress, "Stop the broadcast")
    report = await admin.wait_for_message(lambda m: "Broadcast cancelled" in m.text, timeout=30)
    got = sum(len(announcements(u)) for u in users)
    assert got < 100
    states = recipient_states(bot)
    assert states["pending"] == 100 + 1 - states["sent"]
    assert f"{states['pending']} users did not get it" in report.text
    assert states["sent"] == got + 1  # the operator's own copy is among them
    assert unexpected_errors(telegram) == []
