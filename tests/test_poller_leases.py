"""Polling shared out by leases: fair shares, takeover after a kill, hand-back at stop.

Two pollers (two "replicas") share one real database, whose clock the test drives; the
jiema side is the real sandbox behind the real client, the Telegram side the strict fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from telegram.ext import ExtBot

from bot.api import JiemaClient
from bot.fakebotapi import FakeBotApi
from bot.poller import Poller
from bot.sandbox import SandboxConfig, SandboxServer
from bot.sandbox.stats import RequestRecord
from bot.services.accounts import AccountService
from bot.store import POLL_PREFIX, Store
from bot.vault import KeyVault, generate_secret
from tests.e2e.harness import eventually
from tests.polling import WallClock, buy, make_poller, tg_country

USERS = range(2001, 2011)


@dataclass
class World:
    store: Store
    clock: WallClock
    pollers: dict[str, Poller]
    make: Callable[..., Poller]
    """``make(name, ...)``: one more poller on the same database."""
    sandbox: SandboxServer
    keys: dict[int, str]

    async def holders(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for holder in (await self.store.live_leases(POLL_PREFIX)).values():
            counts[holder] = counts.get(holder, 0) + 1
        return counts

    async def round(self, *names: str) -> None:
        """One round of each named poller, waiting for it to finish (not its polls)."""
        for name in names:
            poller = self.pollers[name]
            poller.tick()
            assert poller._round is not None
            await poller._round


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = WallClock()
    async with (
        SandboxServer(SandboxConfig(sms_delay=None)) as sandbox,
        FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot") as telegram,
    ):
        store = await Store.open(tmp_path / "bot.sqlite3", clock=clock)
        api = JiemaClient(sandbox.base_url, timeout=2.0)
        bot = ExtBot(telegram.token, base_url=f"{telegram.root}/bot")
        await bot.initialize()
        vault = KeyVault.from_secret(generate_secret())
        accounts = AccountService(api, store, vault)
        country = tg_country(sandbox)
        keys: dict[int, str] = {}
        for user_id in USERS:
            key = keys[user_id] = sandbox.create_account(balance_cents=1000)
            await store.ensure_user(user_id, "en")
            await accounts.link(user_id, key)
            await buy(sandbox, store, vault, user_id, key, country)
        pollers: dict[str, Poller] = {}

        def make(
            name: str,
            *,
            interval: float = 3.0,
            join_first: bool = False,
            on_replicas: Callable[[int], None] | None = None,
            sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ) -> Poller:
            poller = pollers[name] = make_poller(
                name,
                api,
                store,
                accounts,
                bot,
                interval=interval,
                join_first=join_first,
                on_replicas=on_replicas,
                sleep=sleep,
            )[0]
            return poller

        for name in ("a", "b"):
            make(name)
        yield World(store, clock, pollers, make, sandbox, keys)
        for poller in pollers.values():
            await poller.stop()
        await bot.shutdown()
        await api.aclose()
        await store.close()


async def test_one_replica_polls_every_key(world: World) -> None:
    await world.round("a")
    assert await world.holders() == {"a": len(USERS)}


async def test_a_second_replica_gets_a_fair_share_and_no_key_twice(world: World) -> None:
    await world.round("a")
    await world.round("b")  # b is live now, but every key is taken
    await world.round("a", "b")  # a hands back what is over its share (one spare kept)
    counts = await world.holders()
    assert sum(counts.values()) == len(USERS), "every key has exactly one holder"
    assert counts["b"] >= len(USERS) // 2 - 1
    assert counts["a"] <= len(USERS) // 2 + 1


async def test_a_killed_replicas_keys_are_taken_over_after_the_ttl(world: World) -> None:
    await world.round("a")
    await world.round("b")
    await world.round("a", "b")
    # a is SIGKILLed: it never renews again. Just before the TTL nothing moves...
    world.clock.now += timedelta(seconds=9)
    await world.round("b")
    assert (await world.holders()).get("a", 0) > 0
    # ...and once a's leases and heartbeat expired, b polls every key.
    world.clock.now += timedelta(seconds=2)
    await world.round("b")
    assert await world.holders() == {"b": len(USERS)}


async def test_a_stopped_replica_hands_its_keys_back_at_once(world: World) -> None:
    await world.round("a")
    await world.pollers["a"].stop()
    assert await world.holders() == {}
    await world.round("b")
    assert await world.holders() == {"b": len(USERS)}


async def test_a_joining_replica_is_counted_by_the_others_before_it_takes_keys(
    world: World,
) -> None:
    await world.round("a")  # a alone: every key
    told: list[int] = []
    sleeps: list[float] = []
    joined = asyncio.Event()
    go_on = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            joined.set()
            await go_on.wait()
        else:
            await asyncio.Event().wait()  # the test drives the rest

    c = world.make("c", join_first=True, on_replicas=told.append, sleep=sleep)
    c.start()
    await asyncio.wait_for(joined.wait(), 5)
    assert sleeps == [3.0]  # one interval before its first round
    assert told == [2]  # it counted a, and itself
    assert await world.store.live_replicas(timedelta(seconds=10)) == ["a", "c"]
    assert await world.holders() == {"a": len(USERS)}  # it took nothing yet
    go_on.set()
    await eventually(lambda: c._round is not None, what="c's first round")
    assert c._round is not None
    await c._round
    await world.round("a")  # a hands back what is over its share of two
    await world.round("c")
    assert (await world.holders())["c"] >= len(USERS) // 2 - 1


async def test_a_key_still_polling_at_the_next_round_is_polled_right_after_not_skipped(
    world: World,
) -> None:
    slow = USERS[0]
    key = world.keys[slow]
    world.sandbox.set_latency(0.6, key)  # each read of this key outlasts the 0.1 s round
    poller = world.make("c", interval=0.1)
    await world.round("c")
    await eventually(lambda: slow in poller._running, what="the slow key's first poll")
    await world.round("c")  # the first poll is still reading

    def reads() -> list[RequestRecord]:
        return [r for r in world.sandbox.request_log.for_key(key) if "/orders" in r.path]

    await eventually(lambda: len(reads()) >= 2, within=5, what="a second read of the key")
    first, second = reads()[:2]
    assert second.at - first.at >= 0.6  # one poll after the other, never two at once
