"""/forget through the strict fake Bot API: asked first, refused while an order is in
progress, and then nothing about the user is left in the database; /unlink is untouched."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, buy, sandbox_orders
from tests.e2e.harness import eventually

pytestmark = pytest.mark.in_process


def rows_naming(data_dir: Path, values: set[object]) -> dict[str, int]:
    """Table → rows holding any of ``values`` in any column."""
    found: dict[str, int] = {}
    with contextlib.closing(sqlite3.connect(data_dir / "bot.sqlite3", timeout=5)) as db:
        tables = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
            hits = sum(1 for row in rows if values & set(row))
            if hits:
                found[table] = hits
    return found


def order_settled(data_dir: Path, order_id: str) -> bool:
    with contextlib.closing(sqlite3.connect(data_dir / "bot.sqlite3", timeout=5)) as db:
        row = db.execute("SELECT final_notified FROM orders WHERE id = ?", (order_id,)).fetchone()
    return row is not None and row[0] == 1


async def test_forget_asks_refuses_while_an_order_runs_then_erases_everything(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    alice = await linked_user()
    await alice.send("/forget")
    ask = await alice.wait_for_message(lambda m: "erases everything I keep about you" in m.text)
    await alice.press(ask, "Keep my data")
    await alice.wait_for(
        lambda m: m.message_id == ask.message_id and "nothing was erased" in m.text
    )

    card = await buy(alice)
    [order] = sandbox_orders(sandbox, alice.key)
    await alice.send("/forget")
    await alice.wait_for_message(lambda m: "You have an order in progress" in m.text)
    await alice.press(card, "Cancel order")
    await alice.wait_for(lambda m: m.message_id == card.message_id and "Cancelled" in m.text)
    await eventually(lambda: order_settled(bot.data_dir, order["id"]), what="order settled")
    assert rows_naming(bot.data_dir, {alice.id, str(alice.id), order["id"]}).keys() >= {
        "users",
        "orders",
        "purchases",
        "recent_services",
    }

    await alice.send("/forget")
    ask = await alice.wait_for_message(
        lambda m: "erases everything I keep about you" in m.text and m.message_id > card.message_id
    )
    await alice.press(ask, "Erase everything")
    await alice.wait_for(
        lambda m: m.message_id == ask.message_id and "I erased everything" in m.text
    )
    assert rows_naming(bot.data_dir, {alice.id, str(alice.id), order["id"]}) == {}

    await alice.send("/balance")  # a new, empty start
    await alice.wait_for_message(lambda m: "First link your jiema.my API key" in m.text)
    telegram.assert_no_errors()
