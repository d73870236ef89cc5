"""The console's services against real parts: SQLite, Prometheus counters, the strict fake
Bot API (in this process) with a PTB ``Bot``; the broadcaster's time is a test clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import ExtBot

from bot.broadcaster import BROADCAST_LEASE, Broadcaster
from bot.config import ConfigError, Settings
from bot.fakebotapi import FakeBotApi, FakeUser
from bot.metrics import Metrics
from bot.ratelimit import ChatRateLimiter
from bot.services.admin import AdminService, FleetCounters, percentile, read_counters
from bot.services.broadcasts import BroadcastService, Cancelled, Discarded, NotRunning, Started
from bot.store import Store, StoredOrder
from bot.store.console import Tally
from bot.store.postgres import PostgresDatabase
from tests.pg import fresh_database

TOKEN = "123456:TEST"
ADMIN = 1001
TTL = timedelta(seconds=10)
TEXT = "<b>New</b> services are in"


@dataclass
class Time:
    """Wall and monotonic time of one test, moved by the sleeps of the code under test."""

    wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    mono: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@pytest.fixture
def time_() -> Time:
    return Time()


@pytest.fixture
async def store(tmp_path: Path, time_: Time) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.sqlite3", clock=time_.now)
    yield opened
    await opened.close()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN, flood=None) as server:
        yield server


@pytest.fixture
async def bot(telegram: FakeBotApi) -> AsyncIterator[ExtBot[Any]]:
    """As the bot process builds it: PTB's ExtBot with the bot's own rate limiter."""
    async with ExtBot(TOKEN, base_url=telegram.base_url, rate_limiter=ChatRateLimiter()) as opened:
        yield opened


# -- ADMIN_IDS ----------------------------------------------------------------------------


def test_admin_ids_are_parsed() -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": " 1001, 7000000000,,1001 "}
    assert Settings.from_env(env).admin_ids == frozenset({1001, 7_000_000_000})
    assert Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN}).admin_ids == frozenset()


@pytest.mark.parametrize("raw", ["alice", "12a", "-5", "0", "1.5", "1001;1002"])
def test_bad_admin_ids_are_named(raw: str) -> None:
    with pytest.raises(ConfigError, match="ADMIN_IDS"):
        Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": raw})


# -- statistics ---------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(list(reversed(values)), 0.95) == 95.0


def test_counters_are_read_from_the_metrics() -> None:
    metrics = Metrics()
    metrics.jiema_requests.labels("GET", "v1/account", "200").inc(5)
    metrics.jiema_requests.labels("GET", "v1/account", "500").inc()
    metrics.jiema_requests.labels("POST", "v1/orders", "timeout").inc()
    metrics.jiema_requests.labels("GET", "v1/orders", "429").inc(2)
    metrics.jiema_rate_limited.inc(2)
    metrics.telegram_calls.labels("sendMessage", "").inc(9)
    metrics.telegram_calls.labels("sendMessage", "Forbidden").inc()
    assert read_counters(metrics) == {"jiema_errors": 2, "jiema_429": 2, "telegram_errors": 1}


async def test_each_replica_flushes_only_what_is_new(store: Store, time_: Time) -> None:
    one, two = Metrics(), Metrics()
    flush_one = FleetCounters(store, one, clock=time_.now)
    flush_two = FleetCounters(store, two, clock=time_.now)
    one.jiema_rate_limited.inc(3)
    two.jiema_rate_limited.inc()
    assert (await flush_one.flush())["jiema_429"] == 3
    await asyncio.gather(flush_one.flush(), flush_one.flush())  # nothing new: nothing added
    await flush_two.flush()
    one.telegram_calls.labels("sendMessage", "BadRequest").inc()
    await flush_one.flush()
    since = time_.now() - timedelta(hours=24)
    assert await store.sum_counters(since) == {"jiema_429": 4, "telegram_errors": 1}


async def test_stats_read_the_database(store: Store, time_: Time) -> None:
    for user_id in (ADMIN, 2002, 3003):
        await store.ensure_user(user_id, "en")
    await store.set_key(ADMIN, b"cipher", "fp", "Olga")
    await store.set_chat_active(3003, False)
    order = StoredOrder(
        id="o1",
        user_id=ADMIN,
        key_fingerprint="fp",
        service="tg",
        service_name="Telegram",
        country_id="7",
        country_slug="my",
        phone="+60123",
        status="RECEIVED",
        expires_at=None,
        charged_cents=10,
        created_at=time_.now(),
        updated_at=time_.now(),
    )
    await store.save_order(order)
    await store.claim_delivery("o1", 0, "code 1", time_.now() - timedelta(seconds=2))
    await store.mark_delivered("o1", 0, 50)
    await store.claim_delivery("o1", 1, "code 2", time_.now())
    await store.heartbeat("me")
    await store.heartbeat("other")
    await store.acquire_lease("poll:1001", "other", TTL)
    await store.acquire_lease("job:broadcast", "me", TTL)
    metrics = Metrics()
    metrics.jiema_requests.labels("GET", "v1/account", "401").inc()
    counters = FleetCounters(store, metrics, clock=time_.now)
    admin = AdminService(store, {ADMIN}, "me", counters, lease_ttl=TTL, clock=time_.now)
    assert admin.is_admin(ADMIN)
    assert not admin.is_admin(2002)
    assert not admin.is_admin(None)

    stats = await admin.stats()
    assert (stats.users.total, stats.users.linked, stats.users.active) == (3, 1, 3)
    assert stats.users.blocked == 1
    assert (stats.active_orders, stats.orders_bought, stats.codes_delivered) == (1, 1, 1)
    assert stats.latency_median == stats.latency_p95 == pytest.approx(2.0, abs=0.01)
    assert (stats.jiema_errors, stats.jiema_rate_limited, stats.telegram_errors) == (1, 0, 0)
    assert stats.pending_deliveries == 1
    by_id = {r.replica_id: r for r in stats.replicas}
    assert set(by_id) == {"me", "other"}
    assert by_id["me"].jobs == ("job:broadcast",)
    assert by_id["me"].this_one
    assert (by_id["other"].polls, by_id["other"].this_one) == (1, False)
    time_.wall += timedelta(hours=25)
    later = await admin.stats()
    assert (later.orders_bought, later.codes_delivered, later.jiema_errors) == (0, 0, 0)
    assert later.latency_median is None


# -- broadcasts ---------------------------------------------------------------------------


async def _audience(store: Store, telegram: FakeBotApi, count: int) -> list[FakeUser]:
    users = []
    for n in range(count):
        user = telegram.user(5000 + n, first_name=f"U{n}")
        await user.send("/start")  # opens the chat (nobody polls: the update just waits)
        await store.ensure_user(user.id, "en")
        users.append(user)
    return users


def _announcements(user: FakeUser) -> int:
    return sum(1 for m in user.messages if m.text == "New services are in")


def _broadcaster(bot: ExtBot[Any], store: Store, time_: Time, replica: str = "me") -> Broadcaster:
    return Broadcaster(
        bot,
        store,
        replica_id=replica,
        lease_ttl=TTL,
        progress_every=1.0,
        clock=time_.monotonic,
        sleep=time_.sleep,
    )


async def _started(store: Store, telegram: FakeBotApi, bot: ExtBot[Any]) -> tuple[str, int]:
    """A confirmed broadcast of ADMIN, whose progress message is in their chat."""
    admin = telegram.user(ADMIN, first_name="Olga")
    await admin.send("/start")
    await store.ensure_user(ADMIN, "en")
    service = BroadcastService(store)
    drafted = await service.draft(ADMIN, TEXT)
    progress = await bot.send_message(ADMIN, "Send it?")
    started = await service.start(ADMIN, drafted.broadcast_id, progress.message_id)
    assert isinstance(started, Started)
    return started.broadcast_id, started.recipients


async def test_the_service_drafts_starts_and_cancels(store: Store) -> None:
    await store.ensure_user(ADMIN, "en")
    await store.ensure_user(2002, "en")
    await store.set_announcements_muted(2002, True)
    service = BroadcastService(store)
    drafted = await service.draft(ADMIN, TEXT)
    assert drafted.recipients == 1
    assert await service.start(2002, drafted.broadcast_id, 1) == NotRunning()
    started = await service.start(ADMIN, drafted.broadcast_id, 1)
    assert started == Started(drafted.broadcast_id, 1)
    assert started.tally == Tally(pending=1)
    assert await service.cancel(ADMIN, drafted.broadcast_id) == Cancelled()
    assert await service.cancel(ADMIN, drafted.broadcast_id) == NotRunning()
    again = await service.draft(ADMIN, TEXT)
    assert await service.cancel(ADMIN, again.broadcast_id) == Discarded()
    assert await service.set_muted(2002, False) is False
    assert (await store.count_announcement_recipients()) == 2


async def test_a_broadcast_is_paced_and_reported(
    store: Store, telegram: FakeBotApi, bot: ExtBot[Any], time_: Time
) -> None:
    users = await _audience(store, telegram, 30)
    await store.set_announcements_muted(users[0].id, True)  # before: not a recipient
    broadcast_id, recipients = await _started(store, telegram, bot)
    assert recipients == 30
    await store.set_announcements_muted(users[1].id, True)  # meanwhile: skipped
    users[2].deactivate()  # the bot does not know: its send fails
    sender = _broadcaster(bot, store, time_)
    started = time_.mono
    while await sender.work():
        pass
    assert time_.mono - started >= 29 / 20  # 30 sends at most 20 a second
    assert [_announcements(u) for u in users] == [0, 0, 0, *([1] * 27)]
    assert await store.tally(broadcast_id) == Tally(sent=28, blocked=1, skipped=1)
    blocked = await store.get_user(users[2].id)
    assert blocked is not None
    assert not blocked.chat_active
    admin = telegram.user(ADMIN, first_name="Olga")
    [report] = [m for m in admin.messages if "Broadcast finished" in m.text]
    assert "Sent: 28 · blocked: 1 · failed: 0 · muted meanwhile: 1" in report.text
    [progress] = [m for m in admin.messages if "Announcement sent." in m.text]
    assert progress.buttons == []
    assert not await sender.work()  # reported once
    assert len([m for m in admin.messages if "Broadcast finished" in m.text]) == 1
    assert [r.status for r in telegram.errors] == [403]


async def test_codes_go_first(
    store: Store, telegram: FakeBotApi, bot: ExtBot[Any], time_: Time
) -> None:
    users = await _audience(store, telegram, 3)
    await _started(store, telegram, bot)
    order = StoredOrder(
        id="o1",
        user_id=users[0].id,
        key_fingerprint="fp",
        service="tg",
        service_name="Telegram",
        country_id="7",
        country_slug="my",
        phone="+60123",
        status="RECEIVED",
        expires_at=None,
        charged_cents=10,
    )
    await store.save_order(order)
    await store.claim_delivery("o1", 0, "code", None)  # a code waits to be sent
    sender = _broadcaster(bot, store, time_)
    assert await sender.work()  # worked its slice...
    assert sum(_announcements(u) for u in users) == 0  # ...waiting behind the code
    assert time_.slept
    await store.mark_delivered("o1", 0, 1)
    while await sender.work():
        pass
    assert [_announcements(u) for u in users] == [1, 1, 1]


async def test_one_sender_at_a_time_and_a_dead_ones_claim_is_not_resent(
    store: Store, telegram: FakeBotApi, bot: ExtBot[Any], time_: Time
) -> None:
    users = await _audience(store, telegram, 5)
    broadcast_id, _ = await _started(store, telegram, bot)
    # A replica claimed the operator's copy, then died before recording the send.
    assert await store.acquire_lease(BROADCAST_LEASE, "dead", TTL)
    assert await store.claim_recipient(broadcast_id, "dead") == ADMIN
    sender = _broadcaster(bot, store, time_)
    assert not await sender.work()  # the lease is the dead replica's until it expires
    assert sum(_announcements(u) for u in users) == 0
    time_.wall += TTL + timedelta(seconds=1)
    while await sender.work():
        pass
    assert [_announcements(u) for u in users] == [1] * 5
    admin = telegram.user(ADMIN, first_name="Olga")
    assert _announcements(admin) == 0  # at most once: the unknown claim is not sent again
    assert await store.tally(broadcast_id) == Tally(sent=5, unknown=1)
    [report] = [m for m in admin.messages if "Broadcast finished" in m.text]
    assert "failed: 1" in report.text
    assert "they were not sent it again" in report.text


async def test_a_cancelled_broadcast_stops_and_says_who_is_left(
    store: Store, telegram: FakeBotApi, bot: ExtBot[Any], time_: Time
) -> None:
    users = await _audience(store, telegram, 5)
    broadcast_id, _ = await _started(store, telegram, bot)
    assert await BroadcastService(store).cancel(ADMIN, broadcast_id) == Cancelled()
    sender = _broadcaster(bot, store, time_)
    while await sender.work():
        pass
    assert sum(_announcements(u) for u in users) == 0
    admin = telegram.user(ADMIN, first_name="Olga")
    [report] = [m for m in admin.messages if "Broadcast cancelled" in m.text]
    assert "6 users did not get it" in report.text
    assert await store.tally(broadcast_id) == Tally(pending=6)


async def test_two_replicas_on_postgresql_send_each_copy_once(
    telegram: FakeBotApi, bot: ExtBot[Any], time_: Time
) -> None:
    async with fresh_database() as url:
        one = await Store.over(await PostgresDatabase.open(url), clock=time_.now)
        two = await Store.over(await PostgresDatabase.open(url), clock=time_.now)
        try:
            users = await _audience(one, telegram, 40)
            broadcast_id, recipients = await _started(one, telegram, bot)
            assert recipients == 41

            async def drain(sender: Broadcaster) -> None:
                for _ in range(200):
                    if not await sender.work() and (await one.tally(broadcast_id)).done == 41:
                        return

            await asyncio.gather(
                drain(_broadcaster(bot, one, time_, "a")), drain(_broadcaster(bot, two, time_, "b"))
            )
            assert [_announcements(u) for u in users] == [1] * 40
            assert await two.tally(broadcast_id) == Tally(sent=41)
            admin = telegram.user(ADMIN, first_name="Olga")
            assert len([m for m in admin.messages if "Broadcast finished" in m.text]) == 1
        finally:
            await one.close()
            await two.close()
