"""The poller's read strategy (bot/poller.py's docstring), counted in the requests the
sandbox saw, round by round.

The rounds are driven by hand (``Poller.tick``) on a driven monotonic clock with an
instant sleep; the sandbox runs on its own manual clock, so its list lag and rate window
move only when the test says. Telegram is the strict fake, the store SQLite.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram.ext import ExtBot

from bot import views
from bot.api import JiemaClient, Priority, RetryPolicy
from bot.fakebotapi import ChatMessage, FakeBotApi
from bot.i18n import get_translator
from bot.outbox import Outbox
from bot.poller import PHASE_STEP, Poller, _phase
from bot.ratelimit import ChatRateLimiter
from bot.sandbox import SandboxConfig, SandboxServer
from bot.sandbox.clock import ManualClock
from bot.sandbox.stats import key_fingerprint
from bot.services.accounts import AccountService
from bot.store import Store, StoredOrder
from bot.vault import KeyVault, generate_secret
from tests.polling import WallClock, buy, make_poller, tg_country

ALICE, BOB = 3001, 3002
LIST = "list"
"""How :meth:`World.round` names a ``GET /v1/orders`` (a per-order read is the order's id)."""


class Monotonic:
    """The poller's clock: it moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def no_wait(seconds: float) -> None:
    """The poller's sleep: a key's place in the round comes at once."""
    await asyncio.sleep(0)


@dataclass
class World:
    sandbox: SandboxServer
    sandbox_clock: ManualClock
    telegram: FakeBotApi
    store: Store
    vault: KeyVault
    accounts: AccountService
    api: JiemaClient
    poller: Poller
    outbox: Outbox
    clock: Monotonic
    country: int

    async def user(self, user_id: int, orders: int = 1) -> tuple[str, list[StoredOrder]]:
        """A linked user with a funded key and ``orders`` active orders."""
        key = self.sandbox.create_account(balance_cents=10_000)
        self.telegram.user(user_id, first_name=f"U{user_id}").chat.started = True
        await self.store.ensure_user(user_id, "en")
        await self.accounts.link(user_id, key)
        bought = [
            await buy(self.sandbox, self.store, self.vault, user_id, key, self.country)
            for _ in range(orders)
        ]
        return key, bought

    async def round(self) -> dict[str, list[str]]:
        """One round, waited for to the end (its polls and sends): key -> what it read.

        The round's task and its polls' tasks are the only parts of the poller's inside
        this looks at; what is asserted is what the sandbox and Telegram saw.
        """
        seen = len(self.sandbox.request_log)
        self.poller.tick()
        assert self.poller._round is not None
        await asyncio.wait_for(self.poller._round, 10)
        await asyncio.wait_for(asyncio.gather(*list(self.poller._tasks)), 10)
        await asyncio.wait_for(self.outbox.idle(), 10)
        reads: dict[str, list[str]] = {}
        for record in self.sandbox.request_log[seen:]:
            assert record.key_fp is not None
            assert record.method == "GET"
            name = record.path.removeprefix("/api/v1/orders").lstrip("/") or LIST
            reads.setdefault(record.key_fp, []).append(name)
        return reads

    def codes(self, user_id: int) -> list[ChatMessage]:
        return [
            m
            for m in self.telegram.user(user_id, first_name=f"U{user_id}").messages
            if m.from_bot and "SMS for" in m.text
        ]


def of(key: str, reads: dict[str, list[str]]) -> list[str]:
    """What ``key`` read in a round."""
    return reads.get(key_fingerprint(key), [])


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """Parametrised indirectly with how many seconds the sandbox's clock starts behind."""
    behind: float = getattr(request, "param", 0.0)
    sandbox_clock = ManualClock(time.time() - behind)
    async with (
        SandboxServer(SandboxConfig(sms_delay=None), clock=sandbox_clock) as sandbox,
        FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot") as telegram,
    ):
        store = await Store.open(tmp_path / "bot.sqlite3", clock=WallClock())
        # One try per read: a 5xx or 429 reaches the poller, whose backoff is under test.
        api = JiemaClient(sandbox.base_url, timeout=2.0, retry=RetryPolicy(attempts=1))
        bot = ExtBot(
            telegram.token,
            base_url=f"{telegram.root}/bot",
            rate_limiter=ChatRateLimiter(private_burst=50),
        )
        await bot.initialize()
        vault = KeyVault.from_secret(generate_secret())
        accounts = AccountService(api, store, vault)
        clock = Monotonic()
        poller, outbox = make_poller(
            "r1", api, store, accounts, bot, sync_every=3, clock=clock, sleep=no_wait
        )
        try:
            yield World(
                sandbox,
                sandbox_clock,
                telegram,
                store,
                vault,
                accounts,
                api,
                poller,
                outbox,
                clock,
                tg_country(sandbox),
            )
        finally:
            await poller.stop()
            await outbox.stop()
            await bot.shutdown()
            await api.aclose()
            await store.close()


async def test_a_key_with_one_order_reads_that_order_and_never_the_list(world: World) -> None:
    key, [order] = await world.user(ALICE)
    for _ in range(4):  # a sync round (the third) among them
        assert of(key, await world.round()) == [order.id]


async def test_a_key_with_several_orders_reads_the_list_and_syncs_one_in_turn(
    world: World,
) -> None:
    key, orders = await world.user(ALICE, orders=3)
    synced: list[str] = []
    for number in range(1, 10):
        reads = of(key, await world.round())
        assert reads[0] == LIST
        if number % 3:
            assert reads == [LIST], f"round {number}"
        else:
            [one] = reads[1:]
            synced.append(one)
    assert sorted(synced) == sorted(o.id for o in orders)  # each in turn, once


@pytest.mark.parametrize("world", [25 * 60.0], indirect=True)
async def test_an_order_past_its_expiry_is_read_for_its_final_state(world: World) -> None:
    # Bought 25 minutes ago (the sandbox's clock is behind): its 20 minutes are over.
    key, [old] = await world.user(ALICE)
    world.sandbox_clock.advance(25 * 60.0)
    fresh = await buy(world.sandbox, world.store, world.vault, ALICE, key, world.country)
    reads = of(key, await world.round())
    assert reads == [LIST, old.id]  # the list, and the expired one read on its own
    ended = await world.store.get_order(old.id)
    assert ended is not None
    assert ended.is_final
    alice = world.telegram.user(ALICE, first_name=f"U{ALICE}")
    told = views.order_ended(get_translator("en"), ended).text
    assert [m.text for m in alice.messages if m.text == told] == [told]  # and told once
    assert of(key, await world.round()) == [fresh.id]  # one order left: its own read


async def test_a_lagging_list_never_moves_an_order_back_nor_loses_an_sms(world: World) -> None:
    key, [first, second] = await world.user(ALICE, orders=2)
    world.sandbox.set_list_lag(30)
    world.sandbox_clock.advance(60)  # the list shows the orders as they were 30 s ago
    world.sandbox.deliver_sms(first.id, "Your code is 111111")
    rounds = 0
    while first.id not in (reads := of(key, await world.round())):  # until a sync round
        rounds += 1
        assert rounds < 6, "no sync round read it"
        assert world.codes(ALICE) == [], "the list does not show the SMS yet"
    assert reads == [LIST, first.id]  # read on its own
    assert rounds in (2, 5)  # in the third or sixth round
    assert len(world.codes(ALICE)) == 1
    for _ in range(4):  # the list still shows the first order without its SMS
        await world.round()
    got = await world.store.get_order(first.id)
    assert got is not None
    assert (got.status, got.sms_seen) == ("RECEIVED", 1)
    assert len(world.codes(ALICE)) == 1
    # Once the list shows the second order's SMS, it is taken from the list alone (this
    # round is not a sync round), and the first order's, shown at last, is no news.
    world.sandbox.deliver_sms(second.id, "Your code is 222222")
    world.sandbox_clock.advance(31)
    assert of(key, await world.round()) == [LIST]
    codes = world.codes(ALICE)
    assert len(codes) == 2
    assert "222222" in codes[1].text
    got = await world.store.get_order(first.id)
    assert got is not None
    assert (got.status, got.sms_seen) == ("RECEIVED", 1)


async def test_a_failing_key_backs_off_alone(world: World) -> None:
    alices, [alices_order] = await world.user(ALICE)
    bobs, [bobs_order] = await world.user(BOB)
    world.sandbox.inject_fault("error500", key=alices)
    reads = await world.round()
    assert (of(alices, reads), of(bobs, reads)) == ([alices_order.id], [bobs_order.id])
    reads = await world.round()  # Alice's key waits out its backoff; Bob's is read
    assert (of(alices, reads), of(bobs, reads)) == ([], [bobs_order.id])
    world.clock.now += 3.01  # the longest first backoff: one interval
    reads = await world.round()
    assert (of(alices, reads), of(bobs, reads)) == ([alices_order.id], [bobs_order.id])


async def test_a_rate_limited_key_waits_its_retry_after_alone(world: World) -> None:
    alices, [alices_order] = await world.user(ALICE)
    bobs, [bobs_order] = await world.user(BOB)
    world.sandbox.set_rate_window(60, read_limit=4)
    alices_key = await world.accounts.key_for(ALICE)
    spent = len(world.sandbox.request_log.for_key(alices))  # linking read the account
    for _ in range(4 - spent):  # Alice's own taps spend the rest of her key's window
        await world.api.order(alices_key, alices_order.id, priority=Priority.INTERACTIVE)
    reads = await world.round()
    assert (of(alices, reads), of(bobs, reads)) == ([alices_order.id], [bobs_order.id])
    assert world.sandbox.request_log.for_key(alices)[-1].status == 429
    world.clock.now += 30  # within Retry-After: Alice's key is left alone, Bob's read
    reads = await world.round()
    assert (of(alices, reads), of(bobs, reads)) == ([], [bobs_order.id])
    world.clock.now += 31
    world.sandbox_clock.advance(61)
    reads = await world.round()
    assert (of(alices, reads), of(bobs, reads)) == ([alices_order.id], [bobs_order.id])


async def test_a_revoked_key_stops_its_polling_and_is_told_once(world: World) -> None:
    alices, [alices_order] = await world.user(ALICE)
    bobs, [bobs_order] = await world.user(BOB)
    world.sandbox.revoke_key(alices)
    reads = await world.round()
    assert (of(alices, reads), of(bobs, reads)) == ([alices_order.id], [bobs_order.id])
    assert world.sandbox.request_log.for_key(alices)[-1].status == 401
    for _ in range(2):  # Alice's key is not read again; Bob's is
        reads = await world.round()
        assert (of(alices, reads), of(bobs, reads)) == ([], [bobs_order.id])
    user = world.telegram.user(ALICE, first_name=f"U{ALICE}")
    told = [m for m in user.messages if m.from_bot and "no longer accepts" in m.text]
    assert len(told) == 1


def test_keys_share_a_few_places_spread_over_the_round_each_key_always_at_its_own() -> None:
    places = {user_id: _phase(user_id, 3.0) for user_id in range(1000, 1300)}
    assert places == {user_id: _phase(user_id, 3.0) for user_id in places}
    assert all(0 <= place <= 0.9 * 3.0 for place in places.values())
    steps = {round(place / PHASE_STEP) for place in places.values()}
    assert all(
        math.isclose(place, round(place / PHASE_STEP) * PHASE_STEP) for place in places.values()
    )
    # Polled together, a few keys share each wake-up of the loop; the steps fill the round.
    assert 50 <= len(steps) <= int(0.9 * 3.0 / PHASE_STEP)
    assert max(steps) * PHASE_STEP > 0.8 * 3.0
