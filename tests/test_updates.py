"""The update processor (bot/updates.py): one user's updates one after another, fleet-wide
through the ``user:<id>`` lease; different users' at once. On SQLite, the lease clock and
the processor's sleep driven by the test."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from telegram import CallbackQuery, Update, User

from bot.metrics import Metrics
from bot.store import Store
from bot.store.db import SqliteDatabase
from bot.updates import _FIRST_WAIT, _RENEW_EVERY, USER_LEASE_TTL, PerUserUpdateProcessor
from tests.e2e.harness import eventually
from tests.polling import WallClock

ALICE, BOB = 1001, 2002


class DrivenSleep:
    """A sleep that ends when the test says: each call waits for :meth:`wake`."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._waiting: list[asyncio.Future[None]] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(done)
        await done

    async def asked_times(self, count: int) -> list[float]:
        """What it was asked, once it was asked ``count`` times."""
        await eventually(lambda: len(self.asked) >= count, what=f"sleep asked {count} times")
        return self.asked

    def wake(self) -> None:
        """End every sleep going on now."""
        for done in self._waiting:
            if not done.done():
                done.set_result(None)
        self._waiting.clear()


@dataclass
class Journal:
    """What the handlers did, in order, and the gates they wait at."""

    lines: list[str] = field(default_factory=list)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def handle(self, name: str) -> None:
        """A handler: starts, waits at its gate if it has one, ends."""
        self.lines.append(f"{name} starts")
        if name in self.gates:
            await self.gates[name].wait()
        self.lines.append(f"{name} ends")


_update_ids = iter(range(1, 10_000))


def press(user_id: int) -> Update:
    """A button press of ``user_id``."""
    user = User(user_id, f"U{user_id}", is_bot=False)
    update_id = next(_update_ids)
    query = CallbackQuery(str(update_id), user, chat_instance="c", data="x")
    return Update(update_id, callback_query=query)


def start(
    processor: PerUserUpdateProcessor, user_id: int, handler: Awaitable[None]
) -> asyncio.Task[None]:
    """Hand one update to the processor as PTB does, in a task of its own."""
    return asyncio.create_task(processor.process_update(press(user_id), handler))


async def finish(*tasks: Awaitable[None]) -> None:
    """Wait for these updates to be handled; one stuck (a broken processor) fails the test."""
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
    except TimeoutError:
        raise AssertionError("an update was never handled") from None


@dataclass
class World:
    path: Path
    clock: WallClock
    store: Store
    sleep: DrivenSleep
    processor: PerUserUpdateProcessor
    journal: Journal

    async def held(self) -> dict[str, str]:
        return await self.store.live_leases("user:")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = WallClock()
    path = tmp_path / "bot.sqlite3"
    store = await Store.over(await SqliteDatabase.open(path, busy_timeout=0.05), clock=clock)
    sleep = DrivenSleep()
    processor = PerUserUpdateProcessor(store, "r1", Metrics(), sleep=sleep)
    try:
        yield World(path, clock, store, sleep, processor, Journal())
    finally:
        await store.close()


async def test_one_users_updates_run_one_after_another_in_order(world: World) -> None:
    journal = world.journal
    journal.gate("a1")
    tasks = [start(world.processor, ALICE, journal.handle(n)) for n in ("a1", "a2", "a3")]
    await eventually(lambda: journal.lines == ["a1 starts"], what="the first press runs")
    # The others wait while it runs, however long (Bob's whole update runs meanwhile).
    await finish(start(world.processor, BOB, journal.handle("b1")))
    assert journal.lines == ["a1 starts", "b1 starts", "b1 ends"]
    journal.gates["a1"].set()
    await finish(*tasks)
    assert journal.lines[3:] == ["a1 ends", "a2 starts", "a2 ends", "a3 starts", "a3 ends"]


async def test_a_slow_users_update_does_not_hold_up_anothers(world: World) -> None:
    journal = world.journal
    journal.gate("a1")
    alices = start(world.processor, ALICE, journal.handle("a1"))
    await eventually(lambda: "a1 starts" in journal.lines, what="Alice's press runs")
    bobs = [start(world.processor, BOB, journal.handle(n)) for n in ("b1", "b2")]
    await finish(*bobs)  # done while Alice's is still running
    assert journal.lines == ["a1 starts", "b1 starts", "b1 ends", "b2 starts", "b2 ends"]
    journal.gates["a1"].set()
    await finish(alices)
    assert await world.held() == {}


async def test_across_replicas_one_users_updates_still_run_one_after_another(
    world: World,
) -> None:
    other_store = await Store.open(world.path, clock=world.clock)
    other_sleep = DrivenSleep()
    other = PerUserUpdateProcessor(other_store, "r2", Metrics(), sleep=other_sleep)
    journal = world.journal
    try:
        journal.gate("a1")
        first = start(world.processor, ALICE, journal.handle("a1"))  # a double tap: r1...
        await eventually(lambda: "a1 starts" in journal.lines, what="r1 handles the first")
        assert await world.held() == {f"user:{ALICE}": "r1"}
        second = start(other, ALICE, journal.handle("a2"))  # ...and r2 waits for it,
        for count in (1, 2, 3):
            await other_sleep.asked_times(count)
            other_sleep.wake()
        assert await other_sleep.asked_times(4) == [_FIRST_WAIT, 0.02, 0.04, 0.08]  # backing off
        assert journal.lines == ["a1 starts"]
        journal.gates["a1"].set()
        await finish(first)
        other_sleep.wake()
        await finish(second)
        assert journal.lines == ["a1 starts", "a1 ends", "a2 starts", "a2 ends"]
        assert await world.held() == {}
    finally:
        await other_store.close()


async def test_the_lease_is_renewed_while_a_long_update_runs_and_released_after(
    world: World,
) -> None:
    journal = world.journal
    journal.gate("a1")
    task = start(world.processor, ALICE, journal.handle("a1"))
    assert await world.sleep.asked_times(1) == [_RENEW_EVERY]  # the renewal waits
    ttl = USER_LEASE_TTL.total_seconds()
    world.clock.advance(ttl - 1)
    world.sleep.wake()  # time to renew: the lease is the holder's for another TTL from now
    await world.sleep.asked_times(2)  # renewed, waiting again
    world.clock.advance(ttl - 1)  # past the first lease's end
    assert await world.held() == {f"user:{ALICE}": "r1"}
    journal.gates["a1"].set()
    await finish(task)
    assert await world.held() == {}  # handed back at once, not left to expire


async def test_one_renewal_keeps_every_long_update_and_brings_back_none_released(
    world: World,
) -> None:
    journal = world.journal
    for name in ("a1", "b1"):
        journal.gate(name)
    alices = start(world.processor, ALICE, journal.handle("a1"))
    bobs = start(world.processor, BOB, journal.handle("b1"))
    await eventually(lambda: len(journal.lines) == 2, what="both presses run")
    assert await world.sleep.asked_times(1) == [_RENEW_EVERY]  # one renewal for both
    ttl = USER_LEASE_TTL.total_seconds()
    world.clock.advance(ttl - 1)
    world.sleep.wake()
    await world.sleep.asked_times(2)
    journal.gates["a1"].set()
    await finish(alices)  # Alice's handed back; Bob's still running
    world.clock.advance(ttl - 1)  # past the first leases' end: Bob's held by the renewal
    assert await world.held() == {f"user:{BOB}": "r1"}
    world.sleep.wake()
    await world.sleep.asked_times(3)
    assert await world.held() == {f"user:{BOB}": "r1"}  # Alice's not renewed back
    journal.gates["b1"].set()
    await finish(bobs)
    assert await world.held() == {}
    assert len(world.sleep.asked) == 3  # no renewal runs once nothing is held


async def test_with_the_database_unavailable_the_update_still_runs(world: World) -> None:
    outsider = sqlite3.connect(world.path, isolation_level=None)
    try:
        outsider.execute("BEGIN IMMEDIATE")  # another writer holds the database
        await finish(start(world.processor, ALICE, world.journal.handle("a1")))
        assert world.journal.lines == ["a1 starts", "a1 ends"]
        assert world.sleep.asked == []  # not waited for as if another replica held the user
    finally:
        outsider.execute("ROLLBACK")
        outsider.close()
    assert await world.held() == {}
