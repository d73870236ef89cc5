"""Scale-out: ``python -m bench.scale_out [--quick]``.

The load of :mod:`bench.latency` (300 keys holding 1,000 active orders, one SMS per order at
a random moment over 180 s, ``POLL_INTERVAL`` 3 s) on four deployments, each from scratch
(fresh fakes, fresh database, same seed):

1. SQLite, one replica, long polling (today's deployment);
2. PostgreSQL, one replica;
3. PostgreSQL, two replicas;
4. PostgreSQL, three replicas.

2-4 run in webhook mode behind a round-robin balancer (``tests/e2e/balancer.py``), the fake
Bot API delivering updates to it, every replica with its own ``HTTP_LISTEN``. PostgreSQL is a
fresh database on ``TEST_DATABASE_URL`` (default the local server, ``tests/pg.py``), seeded
by copying the benchmark's SQLite seed with the bot's own ``copy-db``.

Each run has three phases after the bot has posted every order card:

* **SMS window**: the SMS arrive; also one extra user whose 8 orders get their SMS at the
  same moment (the per-user burst). Measured: code-to-chat latency (SMS arrival to the fake
  receiving the ``sendMessage`` with the code), API reads per key per minute (sandbox
  request log), CPU of every replica (``/proc``; on PostgreSQL plus the server backends of
  the bot's database) per API read, 429s of both APIs. On SQLite, the window's reads are
  then replayed at the same moments by a bare aiohttp client in its own process
  (:mod:`bench.bare_reads`): the floor for the bot's CPU per read.
* **Updates**: CPU per handled update, as the extra CPU of a burst of ``/help`` messages from
  the users over the same time without them (updates counted from every replica's
  ``jiemabot_updates_total``).
* **Failover** (two or more replicas): 1/6 of the orders get a second SMS over 30 s (the
  window's rate) and one replica is SIGKILLed a third of the way in; its keys' codes must
  each reach the chat within 15 s + one poll interval of the SMS, every code once.

Targets (issue 16): p50 ≤ 1.7 s and p99 ≤ 4.5 s in every configuration; the burst user's
p50 ≤ 3 s with no Telegram 429; reads per key per minute within 10 % across 1, 2 and 3
replicas; CPU per read on PostgreSQL ≤ 1.3x SQLite's; CPU per read with 3 replicas ≤ 1.15x
one replica's; after the kill every code delivered once, each within 15 s + one interval;
zero 429s. Issue 20: CPU per read on SQLite ≤ 1.0 ms, and ≤ 5x the bare client's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import shutil
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench.common import (
    ROOT,
    BotRun,
    SeedUser,
    ShiftedClock,
    create_orders,
    fakes,
    percentile,
    proc_sample,
    run_benchmark,
    seed_bulk,
    sleep_until,
    start_py_spy,
    summarize_collapsed,
    workdir,
)
from bench.latency import _MIX
from bot.fakebotapi import FakeUser, RequestRecord
from bot.sandbox import SandboxConfig, SandboxServer
from bot.sandbox.ratelimit import Bucket
from bot.sandbox.stats import key_fingerprint
from bot.sms import extract_code
from tests.e2e.balancer import Balancer
from tests.e2e.fleet import replica_id
from tests.pg import fresh_database

P50_TARGET = 1.7
P99_TARGET = 4.5
BURST_P50_TARGET = 3.0
READS_SPREAD_TARGET = 0.10  # reads/key/min with 1, 2, 3 replicas within 10 %
PG_CPU_TARGET = 1.3  # CPU per read, PostgreSQL vs SQLite
FLEET_CPU_TARGET = 1.15  # CPU per read, 3 replicas vs 1
READ_CPU_TARGET = 1.0  # ms of CPU per API read, SQLite, one replica (issue 20)
BARE_RATIO_TARGET = 5.0  # that, over a bare aiohttp client's for the same reads (issue 20)
LEASE_TAKEOVER = 15.0  # the bound for a killed replica's keys
POLL_INTERVAL = 3.0
BURST_ORDERS = 8
WEBHOOK_PATH = "/telegram/webhook"
BENCH_SECRET = "YmVuY2gtc2NhbGUtb3V0LXNoYXJlZC1zZWNyZXQtMDE="
"""``BOT_SECRET_KEY`` shared by the replicas (32 bytes, base64)."""


@dataclass(frozen=True, slots=True)
class Size:
    """How big a run is."""

    keys: int
    spread: float  # seconds over which the first SMS arrive
    warmup_limit: float  # seconds allowed for posting every card
    quiet: float  # seconds of the no-updates reference before the update burst
    update_rate: float  # /help messages per second in the update burst
    failover_spread: float  # seconds over which the second SMS arrive

    @property
    def per_key(self) -> list[int]:
        factor = self.keys // 30
        return [orders for count, orders in _MIX for _ in range(count * factor)]


FULL = Size(300, 180.0, 180.0, 20.0, 10.0, 30.0)
QUICK = Size(30, 45.0, 60.0, 8.0, 3.0, 20.0)


@dataclass(frozen=True, slots=True)
class Config:
    """One deployment."""

    name: str
    replicas: int
    postgres: bool

    @property
    def webhook(self) -> bool:
        return self.postgres


CONFIGS = (
    Config("sqlite-1", 1, False),
    Config("pg-1", 1, True),
    Config("pg-2", 2, True),
    Config("pg-3", 3, True),
)


# -- what the fake Bot API saw ---------------------------------------------------------------


class Observer:
    """Collects order cards and code messages as the fake receives them.

    ``codes[chat]`` holds (text, received_at) of every code message; ``code_count`` wakes
    whoever waits for a number of them.
    """

    def __init__(self) -> None:
        self.cards = 0
        self.codes: dict[int, list[tuple[str, float]]] = defaultdict(list)
        self.code_count = 0
        self.changed = asyncio.Event()

    def __call__(self, record: RequestRecord) -> None:
        if record.method != "sendMessage" or record.status != 200:
            return
        text = record.params.get("text", "")
        if text.startswith("📱"):
            self.cards += 1
        elif "<code>" in text and "SMS for" in text:
            self.codes[int(record.params["chat_id"])].append((text, record.received_at))
            self.code_count += 1
        else:
            return
        self.changed.set()

    async def wait(self, *, cards: int = 0, codes: int = 0, limit: float) -> float:
        """Wait until at least ``cards`` cards and ``codes`` codes arrived (at most ``limit``
        seconds); the seconds waited."""
        started = time.monotonic()
        deadline = started + limit
        while self.cards < cards or self.code_count < codes:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                break
        return time.monotonic() - started


@dataclass(slots=True)
class Delivery:
    """One SMS of one order and what became of it."""

    order_id: str
    user_id: int
    sms_at: float
    copies: int
    latency: float | None  # first copy's arrival at the fake minus the SMS's


def deliveries(
    sandbox: SandboxServer, owners: dict[str, int], observer: Observer, position: int
) -> list[Delivery]:
    """SMS number ``position`` of every order, matched to the code messages by phone and code."""
    found = []
    for order_id, user_id in owners.items():
        snapshot = sandbox.order_snapshot(order_id)
        if len(snapshot["sms"]) <= position:
            found.append(Delivery(order_id, user_id, math.nan, 0, None))
            continue
        sms = snapshot["sms"][position]
        code = extract_code(sms["body"])
        hits = [
            at
            for text, at in observer.codes.get(user_id, [])
            if snapshot["phone"] in text and f"<code>{code}</code>" in text
        ]
        latency = min(hits) - sms["receivedAt"] if hits else None
        found.append(Delivery(order_id, user_id, sms["receivedAt"], len(hits), latency))
    return found


# -- PostgreSQL ------------------------------------------------------------------------------


class PostgresCpu:
    """CPU seconds of the server backends serving one database, read from ``/proc``.

    Backends come and go with the replicas' pools, so they are sampled every ``every``
    seconds and each backend's last reading is kept: a total over the run survives backends
    that exited in between (only their CPU after the last sample is lost).
    """

    def __init__(self, url: str, every: float = 1.0) -> None:
        self._url = url
        self._database = urlsplit(url).path.lstrip("/")
        self._every = every
        self._last: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one query at a time on the connection

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._url)
        await self.sample()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await self.sample()

    async def sample(self) -> float:
        """Read every backend of the database now; the total CPU seconds so far."""
        assert self._conn is not None
        async with self._lock:
            pids = await self._conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                self._database,
            )
        for row in pids:
            with contextlib.suppress(OSError, ValueError):
                self._last[row["pid"]] = proc_sample(row["pid"]).cpu_seconds
        return sum(self._last.values())

    async def leases(self) -> dict[str, str]:
        """Lease name → holder, of the live poll leases."""
        assert self._conn is not None
        async with self._lock:
            rows = await self._conn.fetch(
                "SELECT name, holder FROM leases WHERE name LIKE 'poll:%'"
            )
        return {row["name"]: row["holder"] for row in rows}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()


@contextlib.asynccontextmanager
async def database(config: Config) -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database for a PostgreSQL configuration, else None."""
    if not config.postgres:
        yield None
        return
    async with fresh_database() as url:
        yield url


async def recorded_to_sent(url: str | None, data_dir: Path) -> list[float]:
    """Seconds from the bot recording each first SMS to Telegram's answer recorded (both by
    the bot's clock): the part of code-to-chat spent sending; the rest is finding the SMS."""
    query = (
        "SELECT created_at, sent_at FROM sms_deliveries WHERE position = 0 AND sent_at IS NOT NULL"
    )
    if url is None:
        with contextlib.closing(sqlite3.connect(data_dir / "bot.sqlite3")) as db:
            rows = db.execute(query).fetchall()
    else:
        conn = await asyncpg.connect(url)
        try:
            rows = [tuple(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()
    return [
        (datetime.fromisoformat(sent) - datetime.fromisoformat(created)).total_seconds()
        for created, sent in rows
    ]


# -- one configuration -----------------------------------------------------------------------


@dataclass(slots=True)
class Fleet:
    """The replicas of one run and their readings."""

    replicas: list[BotRun]
    pg: PostgresCpu | None
    alive: list[BotRun] = field(default_factory=list)

    async def cpu(self) -> tuple[float, float]:
        """(CPU seconds of the live replicas, of the PostgreSQL backends) so far."""
        bots = sum(r.sample().cpu_seconds for r in self.alive)
        return bots, (await self.pg.sample() if self.pg is not None else 0.0)

    async def updates(self) -> float:
        """Updates handled so far by the live replicas."""
        return sum([await r.metric("jiemabot_updates_total") for r in self.alive])

    def replica_ids(self) -> dict[str, BotRun]:
        """Replica id (as in the leases table) of each process, read from its log."""
        return {found: replica for replica in self.replicas if (found := replica_id(replica.log()))}


def reads_between(sandbox: SandboxServer, start: float, end: float) -> dict[str, int]:
    """API reads (read bucket) per key fingerprint that arrived in [start, end)."""
    counts: dict[str, int] = defaultdict(int)
    for record in sandbox.request_log:
        if start <= record.at < end and record.bucket is Bucket.READ and record.key_fp:
            counts[record.key_fp] += 1
    return counts


async def run_config(
    config: Config, size: Size, tmp: Path, *, profile: bool = False
) -> dict[str, Any]:
    """One deployment under the load; its figures (``profile``: py-spy on the first
    replica during the SMS window, summary printed)."""
    rng = random.Random(20260522)  # the same keys, orders and SMS times for every config
    clock = ShiftedClock()
    home = tmp / config.name
    sandbox_config = SandboxConfig(sms_delay=None)
    async with (
        fakes(sandbox_config=sandbox_config, clock=clock) as (sandbox, telegram),
        database(config) as url,
    ):
        users, owners, keys, chats = [], {}, {}, []
        counts = [*size.per_key, BURST_ORDERS]
        for index, count in enumerate(counts):
            key = sandbox.create_account(balance_cents=10_000_000)
            orders = create_orders(sandbox, key, count, rng, clock=clock, max_age=300.0)
            user_id = 100_000 + index
            users.append(SeedUser(user_id, key, orders))
            owners.update({str(o["id"]): user_id for o in orders})
            keys[user_id] = key
            chat = telegram.user(user_id, first_name=f"User{index}")
            chat.chat.started = True
            chats.append(chat)
        burst_user = users[-1].user_id
        secret = BENCH_SECRET if url else None  # SQLite: the data dir's own secret.key
        seeded = await seed_bulk(home / "data", users, database_url=url, secret=secret)
        print(
            f"   [{config.name}] seeded {len(users)} keys, {len(owners)} orders in {seeded:.2f} s"
        )

        observer = Observer()
        telegram.subscribe(observer)
        replicas = [
            BotRun(
                telegram,
                sandbox.base_url,
                home / f"data{index}" if url else home / "data",
                poll_interval=POLL_INTERVAL,
                database_url=url,
                secret=secret,
                webhook_url="http://127.0.0.1:1/" if config.webhook else None,  # set below
                name=f"replica{index}",
            )
            for index in range(config.replicas)
        ]
        balancer = Balancer([r.http_url for r in replicas]) if config.webhook else None
        pg = PostgresCpu(url) if url else None
        fleet = Fleet(replicas, pg)
        try:
            if balancer is not None:
                webhook_url = await balancer.start() + WEBHOOK_PATH
                for replica in replicas:
                    replica.env["WEBHOOK_URL"] = webhook_url
            if pg is not None:
                await pg.start()
            starts = await asyncio.gather(*(r.start() for r in replicas))
            fleet.alive = list(replicas)
            warmup = await observer.wait(cards=len(owners), limit=size.warmup_limit)
            print(
                f"   [{config.name}] {config.replicas} replica(s) up in {max(starts):.2f} s; "
                f"{observer.cards} cards in {warmup:.1f} s"
            )
            await asyncio.sleep(POLL_INTERVAL)
            main_keys = [k for u, k in keys.items() if u != burst_user]
            spy = None
            if profile and shutil.which("py-spy"):
                spy = start_py_spy(replicas[0].pid, size.spread, home / "profile.collapsed")
            figures, window = await sms_window(
                size, sandbox, fleet, observer, owners, burst_user, main_keys
            )
            if spy is not None:
                await asyncio.to_thread(spy.wait, 60)
                for line in summarize_collapsed(home / "profile.collapsed", size.spread):
                    print(f"   [{config.name}] {line}")
            figures |= await update_burst(size, fleet, chats)
            figures["telegram_429_before_failover"] = sum(
                1 for r in telegram.requests if r.status == 429
            )
            if config.replicas > 1:
                figures |= await failover(size, sandbox, fleet, owners, keys, observer)
        finally:
            for replica in replicas:
                await replica.stop()
            if balancer is not None:
                await balancer.stop()
            if pg is not None:
                await pg.stop()
        if config.name == "sqlite-1":
            figures |= await bare_reads(sandbox, window, list(keys.values()))
        delivered = deliveries(sandbox, owners, observer, 0)
        in_bot = await recorded_to_sent(url, home / "data")
        main = [d for d in delivered if d.user_id != burst_user]
        burst = [d for d in delivered if d.user_id == burst_user]
        found = [d.latency for d in main if d.latency is not None]
        burst_found = [d.latency for d in burst if d.latency is not None]
        stats = sandbox.stats()
        statuses = [r.status for r in telegram.requests]
        burst_429 = sum(
            1
            for r in telegram.requests
            if r.status == 429 and r.params.get("chat_id") == str(burst_user)
        )
    return {
        "config": config.name,
        "replicas": config.replicas,
        "database": "postgresql" if config.postgres else "sqlite",
        "mode": "webhook" if config.webhook else "polling",
        "keys": len(size.per_key),
        "orders": len(main),
        "start_s": round(max(starts), 2),
        "warmup_cards_s": round(warmup, 1),
        "delivered": len(found),
        "missing": sum(1 for d in main if d.copies == 0),
        "repeated": sum(max(0, d.copies - 1) for d in main),
        "p50_s": round(percentile(found, 50), 3),
        "p95_s": round(percentile(found, 95), 3),
        "p99_s": round(percentile(found, 99), 3),
        "max_s": round(max(found, default=math.nan), 3),
        "in_bot_p50_s": round(percentile(in_bot, 50), 3),
        "in_bot_p99_s": round(percentile(in_bot, 99), 3),
        "burst_p50_s": round(percentile(burst_found, 50), 3),
        "burst_max_s": round(max(burst_found, default=math.nan), 3),
        "burst_delivered": len(burst_found),
        "burst_telegram_429": burst_429,
        "jiema_429": stats["rateLimited"],
        "telegram_429": statuses.count(429),
        "telegram_other_errors": sum(1 for s in statuses if s not in (200, 429)),
        "telegram_requests": len(statuses),
        **figures,
    }


async def sms_window(
    size: Size,
    sandbox: SandboxServer,
    fleet: Fleet,
    observer: Observer,
    owners: dict[str, int],
    burst_user: int,
    main_keys: Sequence[str],
) -> tuple[dict[str, Any], tuple[float, float]]:
    """The SMS arrive; CPU and API reads over the window (``main_keys``: the keys whose
    reads are averaged, the burst user's left out); the window's start and end."""
    rng = random.Random(5150)
    bots_before, pg_before = await fleet.cpu()
    harness_before = proc_sample().cpu_seconds
    t0 = time.time()
    burst_at = t0 + 2.0 + size.spread / 2
    for order_id, user_id in owners.items():
        due = burst_at if user_id == burst_user else t0 + 2.0 + rng.uniform(0.0, size.spread)
        sandbox.engine.order(order_id).sms_due_at = due
    await observer.wait(codes=len(owners), limit=size.spread + 30.0)
    await asyncio.sleep(POLL_INTERVAL)  # a late duplicate would show here
    t1 = time.time()
    bots_after, pg_after = await fleet.cpu()
    harness = proc_sample().cpu_seconds - harness_before
    reads = reads_between(sandbox, t0, t1)
    per_key_min = [reads.get(key_fingerprint(k), 0) / ((t1 - t0) / 60) for k in main_keys]
    total_reads = sum(reads.values())
    bots, pg = bots_after - bots_before, pg_after - pg_before
    return {
        "window_s": round(t1 - t0, 1),
        "reads": total_reads,
        "reads_per_key_min": round(sum(per_key_min) / len(per_key_min), 2),
        "reads_per_key_min_max": round(max(per_key_min), 2),
        "max_reads_per_key_60s": max(
            sandbox.request_log.peak(k, Bucket.READ, 60.0) for k in main_keys
        ),
        "bot_cpu_s": round(bots, 2),
        "pg_cpu_s": round(pg, 2),
        "bot_cpu_pct": round(100 * bots / (t1 - t0), 1),
        "cpu_ms_per_read": round(1000 * (bots + pg) / total_reads, 3),
        "bot_cpu_ms_per_read": round(1000 * bots / total_reads, 3),
        "harness_cpu_pct": round(100 * harness / (t1 - t0), 1),
    }, (t0, t1)


async def bare_reads(
    sandbox: SandboxServer, window: tuple[float, float], keys: Sequence[str]
) -> dict[str, Any]:
    """The bot's API reads of the SMS window replayed, at the same moments, by a bare
    aiohttp client in its own process (:mod:`bench.bare_reads`); its CPU per read.

    Run after the bot stopped, with the sandbox's limits lifted (the bot's reads of the last
    minute still count there), so that every replayed read gets the bot's answer."""
    t0, t1 = window
    secrets = {key_fingerprint(key): key for key in keys}
    origin = sandbox.base_url.removesuffix(urlsplit(sandbox.base_url).path)
    plan = [
        [
            r.at - t0,
            secrets[r.key_fp],
            origin + r.path + ("?limit=20" if r.path.endswith("/orders") else ""),
        ]
        for r in sandbox.request_log
        if t0 <= r.at < t1 and r.bucket is Bucket.READ and r.key_fp in secrets
    ]
    sandbox.set_rate_window(60.0, read_limit=1_000_000)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bare_reads",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await process.communicate(json.dumps({"reads": plan}).encode())
    result = json.loads(out)
    return {
        "bare_reads": result["reads"],
        "bare_ok": result["ok"],
        "bare_cpu_ms_per_read": round(1000 * result["cpu_s"] / max(1, result["reads"]), 3),
    }


async def update_burst(size: Size, fleet: Fleet, chats: Sequence[FakeUser]) -> dict[str, Any]:
    """CPU per handled update: the CPU of ``/help`` messages over what the same time costs
    without them (the poller keeps running)."""
    quiet_cpu = sum(await fleet.cpu())
    started = time.monotonic()
    await asyncio.sleep(size.quiet)
    quiet_rate = (sum(await fleet.cpu()) - quiet_cpu) / (time.monotonic() - started)
    updates_before = await fleet.updates()
    cpu_before = sum(await fleet.cpu())
    started = time.monotonic()
    rng = random.Random(77)
    sent = 0
    while (now := time.monotonic()) < started + size.quiet:
        await rng.choice(chats).send("/help")
        sent += 1
        await sleep_until(now + 1 / size.update_rate)
    await asyncio.sleep(2.0)  # the last replies
    busy = time.monotonic() - started
    cpu = sum(await fleet.cpu()) - cpu_before
    handled = await fleet.updates() - updates_before
    extra = cpu - quiet_rate * busy
    return {
        "updates_sent": sent,
        "updates_handled": int(handled),
        "cpu_ms_per_update": round(1000 * extra / handled, 2) if handled else None,
    }


async def failover(
    size: Size,
    sandbox: SandboxServer,
    fleet: Fleet,
    owners: dict[str, int],
    keys: dict[int, str],
    observer: Observer,
) -> dict[str, Any]:
    """A second SMS for some orders, at the SMS window's rate (more would only queue behind
    Telegram's 30 messages/s); one replica SIGKILLed a third of the way in."""
    assert fleet.pg is not None
    rng = random.Random(4242)
    before = observer.code_count
    count = round(len(owners) * size.failover_spread / size.spread)
    chosen = dict(rng.sample(sorted(owners.items()), count))
    t0 = time.time()
    for order_id in chosen:
        sandbox.engine.order(order_id).sms_due_at = t0 + 2.0 + rng.uniform(0, size.failover_spread)
    await asyncio.sleep(2.0 + size.failover_spread / 3)
    ids = fleet.replica_ids()
    leases = await fleet.pg.leases()
    victim = fleet.replicas[0]
    victim_id = next(i for i, r in ids.items() if r is victim)
    victim_users = {int(n.removeprefix("poll:")) for n, h in leases.items() if h == victim_id}
    await victim.kill()
    killed_at = time.time()
    fleet.alive.remove(victim)
    await observer.wait(codes=before + len(chosen), limit=size.failover_spread + 40.0)
    await asyncio.sleep(POLL_INTERVAL)
    second = deliveries(sandbox, chosen, observer, 1)
    theirs = [d for d in second if d.user_id in victim_users and d.sms_at >= killed_at - 1.0]
    late = [d.latency for d in theirs if d.latency is not None]
    bound = LEASE_TAKEOVER + POLL_INTERVAL
    takeover = []
    for user_id in victim_users:
        fp = key_fingerprint(keys[user_id])
        first = min(
            (r.at for r in sandbox.request_log if r.key_fp == fp and r.at > killed_at),
            default=math.nan,
        )
        takeover.append(first - killed_at)
    return {
        "failover_second_sms": len(chosen),
        "failover_victim_keys": len(victim_users),
        "failover_codes_of_victim_keys": len(theirs),
        "failover_p50_s": round(percentile(late, 50), 3),
        "failover_max_s": round(max(late, default=math.nan), 3),
        "failover_over_bound": sum(1 for x in late if x > bound),
        "failover_takeover_max_s": round(max(takeover, default=math.nan), 2),
        "failover_missing": sum(1 for d in second if d.copies == 0),
        "failover_repeated": sum(max(0, d.copies - 1) for d in second),
    }


# -- the whole benchmark ---------------------------------------------------------------------


async def run(
    size: Size, names: Sequence[str], keep: bool, profile: bool = False
) -> dict[str, Any]:
    """Every configuration in turn, each from scratch; the figures and the capacity."""
    results = []
    with workdir(keep) as tmp:
        for config in CONFIGS:
            if config.name in names:
                results.append(await run_config(config, size, tmp, profile=profile))
                print_config(results[-1])
    return {"interval_s": POLL_INTERVAL, "configs": results, "capacity": capacity(results)}


def capacity(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Active keys per replica on one core, and a fleet for 50,000 keys, from the figures.

    A key of this load costs ``cpu_ms_per_read × reads_per_key_min / 60`` ms of CPU per
    second (its polling, its codes, its card edits). A replica is one Python process (one
    core at most); it is sized at 70 % of a core, so that the event loop stays responsive
    (poll lag, webhook answers) and a failed replica's keys fit on the survivors.
    """
    by_name = {r["config"]: r for r in results}
    base = by_name.get("pg-1") or by_name.get("sqlite-1")
    if base is None:
        return {}
    per_key_bot = base["bot_cpu_ms_per_read"] * base["reads_per_key_min"] / 60 / 1000
    per_key_pg = (base["cpu_ms_per_read"] - base["bot_cpu_ms_per_read"]) * (
        base["reads_per_key_min"] / 60 / 1000
    )
    per_replica = math.floor(0.7 / per_key_bot / 100) * 100
    fleet_keys = 50_000
    replicas = math.ceil(fleet_keys / per_replica)
    return {
        "from": base["config"],
        "bot_core_per_1000_keys": round(1000 * per_key_bot, 3),
        "pg_core_per_1000_keys": round(1000 * per_key_pg, 3),
        "keys_per_replica_at_70pct": per_replica,
        "fleet_keys": fleet_keys,
        "fleet_replicas": replicas + 1,  # one spare: a lost replica's keys fit on the rest
        "fleet_reads_per_s": round(fleet_keys * base["reads_per_key_min"] / 60),
        "fleet_pg_cores": round(fleet_keys * per_key_pg, 1),
    }


def print_config(r: dict[str, Any]) -> None:
    """The figures of one configuration."""
    print(
        f"   [{r['config']}] {r['replicas']} replica(s), {r['database']}, {r['mode']}: "
        f"p50 {r['p50_s']:.2f} s  p95 {r['p95_s']:.2f} s  p99 {r['p99_s']:.2f} s  "
        f"max {r['max_s']:.2f} s; {r['delivered']}/{r['orders']} codes, "
        f"{r['missing']} missing, {r['repeated']} repeated"
    )
    print(
        f"      of which sending (the bot's record of the SMS to Telegram's answer): "
        f"p50 {r['in_bot_p50_s']:.2f} s, p99 {r['in_bot_p99_s']:.2f} s"
    )
    print(
        f"      burst user: {r['burst_delivered']}/{BURST_ORDERS} codes, "
        f"p50 {r['burst_p50_s']:.2f} s, max {r['burst_max_s']:.2f} s, "
        f"{r['burst_telegram_429']} Telegram 429s in its chat"
    )
    print(
        f"      reads/key/min {r['reads_per_key_min']:.2f} (busiest key "
        f"{r['max_reads_per_key_60s']} in 60 s); CPU {r['bot_cpu_s']} s bots + {r['pg_cpu_s']} s "
        f"PostgreSQL over {r['window_s']} s ({r['bot_cpu_pct']}% of a core in bots): "
        f"{r['cpu_ms_per_read']:.3f} ms per read ({r['bot_cpu_ms_per_read']:.3f} in bots); "
        f"harness {r['harness_cpu_pct']}%"
    )
    if "bare_cpu_ms_per_read" in r:
        print(
            f"      the same {r['bare_reads']} reads by a bare aiohttp client "
            f"({r['bare_ok']} answered 200): {r['bare_cpu_ms_per_read']:.3f} ms CPU per read; "
            f"the bot {r['bot_cpu_ms_per_read'] / r['bare_cpu_ms_per_read']:.1f}× that"
        )
    print(
        f"      updates: {r['updates_handled']} handled of {r['updates_sent']} sent, "
        f"{r['cpu_ms_per_update']} ms CPU per update (over the same time without them)"
    )
    print(
        f"      429s: jiema {r['jiema_429']}, Telegram {r['telegram_429']} "
        f"({r['telegram_429_before_failover']} before any kill) "
        f"(other errors {r['telegram_other_errors']} of {r['telegram_requests']} calls)"
    )
    if "failover_victim_keys" in r:
        print(
            f"      failover: killed a replica holding {r['failover_victim_keys']} keys; "
            f"their {r['failover_codes_of_victim_keys']} later codes p50 "
            f"{r['failover_p50_s']:.2f} s, max {r['failover_max_s']:.2f} s "
            f"({r['failover_over_bound']} over {LEASE_TAKEOVER + POLL_INTERVAL:.0f} s); "
            f"keys polled again within {r['failover_takeover_max_s']:.1f} s; "
            f"{r['failover_missing']} missing, {r['failover_repeated']} repeated"
        )


def verdicts(results: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, figures) for every target of the issue that the run measured."""
    rows = results["configs"]
    by_name = {r["config"]: r for r in rows}
    out = []
    latency = ", ".join(f"{r['config']} {r['p50_s']:.2f}/{r['p99_s']:.2f}" for r in rows)
    out.append(
        (
            f"p50 ≤ {P50_TARGET} s, p99 ≤ {P99_TARGET} s everywhere",
            all(r["p50_s"] <= P50_TARGET and r["p99_s"] <= P99_TARGET for r in rows),
            latency,
        )
    )
    out.append(
        (
            f"burst of {BURST_ORDERS}: p50 ≤ {BURST_P50_TARGET} s, no 429 in the chat",
            all(
                r["burst_p50_s"] <= BURST_P50_TARGET
                and r["burst_telegram_429"] == 0
                and r["burst_delivered"] == BURST_ORDERS
                for r in rows
            ),
            ", ".join(f"{r['config']} {r['burst_p50_s']:.2f}" for r in rows),
        )
    )
    if "sqlite-1" in by_name and "bare_cpu_ms_per_read" in by_name["sqlite-1"]:
        one = by_name["sqlite-1"]
        ratio = one["bot_cpu_ms_per_read"] / one["bare_cpu_ms_per_read"]
        out.append(
            (
                f"CPU/read on SQLite ≤ {READ_CPU_TARGET} ms, ≤ {BARE_RATIO_TARGET}x a bare client",
                one["bot_cpu_ms_per_read"] <= READ_CPU_TARGET and ratio <= BARE_RATIO_TARGET,
                f"{one['bot_cpu_ms_per_read']:.3f} ms vs {one['bare_cpu_ms_per_read']:.3f} ms "
                f"= {ratio:.1f}x",
            )
        )
    fleet = [by_name[n] for n in ("pg-1", "pg-2", "pg-3") if n in by_name]
    if len(fleet) > 1:
        reads = [r["reads_per_key_min"] for r in fleet]
        spread = max(reads) / min(reads) - 1
        out.append(
            (
                "reads/key/min the same with 1, 2, 3 replicas (±10 %)",
                spread <= READS_SPREAD_TARGET,
                ", ".join(f"{r['config']} {r['reads_per_key_min']:.2f}" for r in fleet)
                + f" (spread {100 * spread:.1f} %)",
            )
        )
    if "pg-1" in by_name and "sqlite-1" in by_name:
        ratio = by_name["pg-1"]["cpu_ms_per_read"] / by_name["sqlite-1"]["cpu_ms_per_read"]
        out.append(
            (
                f"CPU/read PostgreSQL ≤ {PG_CPU_TARGET}x SQLite",
                ratio <= PG_CPU_TARGET,
                f"{by_name['pg-1']['cpu_ms_per_read']:.3f} vs "
                f"{by_name['sqlite-1']['cpu_ms_per_read']:.3f} ms = {ratio:.2f}x "
                "(bots + PostgreSQL backends)",
            )
        )
    if "pg-1" in by_name and "pg-3" in by_name:
        ratio = by_name["pg-3"]["cpu_ms_per_read"] / by_name["pg-1"]["cpu_ms_per_read"]
        out.append(
            (
                f"CPU/read 3 replicas ≤ {FLEET_CPU_TARGET}x one",
                ratio <= FLEET_CPU_TARGET,
                f"{by_name['pg-3']['cpu_ms_per_read']:.3f} vs "
                f"{by_name['pg-1']['cpu_ms_per_read']:.3f} ms = {ratio:.2f}x",
            )
        )
    killed = [r for r in rows if "failover_victim_keys" in r]
    if killed:
        out.append(
            (
                f"after a SIGKILL: every code once, each ≤ {LEASE_TAKEOVER + POLL_INTERVAL:.0f} s",
                all(
                    r["failover_over_bound"] == 0
                    and r["failover_missing"] == 0
                    and r["failover_repeated"] == 0
                    for r in killed
                ),
                ", ".join(
                    f"{r['config']} max {r['failover_max_s']:.1f} s, "
                    f"{r['failover_missing']} missing, {r['failover_repeated']} twice"
                    for r in killed
                ),
            )
        )
    out.append(
        (
            "every code once in the SMS window",
            all(r["missing"] == 0 and r["repeated"] == 0 for r in rows),
            ", ".join(f"{r['config']} {r['missing']}/{r['repeated']}" for r in rows),
        )
    )
    out.append(
        (
            "zero 429s (jiema and Telegram)",
            all(r["jiema_429"] == 0 and r["telegram_429"] == 0 for r in rows),
            ", ".join(f"{r['config']} {r['jiema_429']}/{r['telegram_429']}" for r in rows),
        )
    )
    return out


def report(results: dict[str, Any]) -> tuple[bool, str]:
    """Print the verdict per target and the capacity; whether all targets are met."""
    rows = verdicts(results)
    results["verdicts"] = [{"target": t, "met": m, "figures": f} for t, m, f in rows]
    for target, met, figures in rows:
        print(f"   {'MET    ' if met else 'NOT MET'}  {target}: {figures}")
    cap = results["capacity"]
    if cap:
        print(
            f"   capacity (from {cap['from']}): {cap['bot_core_per_1000_keys']} core of bot and "
            f"{cap['pg_core_per_1000_keys']} core of PostgreSQL per 1,000 active keys; one "
            f"replica carries ~{cap['keys_per_replica_at_70pct']:,} keys at 70 % of a core; "
            f"{cap['fleet_keys']:,} keys: {cap['fleet_replicas']} replicas (one spare), "
            f"~{cap['fleet_reads_per_s']:,} API reads/s, ~{cap['fleet_pg_cores']} PostgreSQL cores"
        )
    missed = [t for t, m, _ in rows if not m]
    verdict = "all targets met" if not missed else "missed: " + "; ".join(missed)
    return not missed, verdict


def main(argv: Sequence[str] | None = None) -> int:
    names = [c.name for c in CONFIGS]

    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--only",
            default=",".join(names),
            help=f"comma-separated configurations to run (default all: {','.join(names)})",
        )

    return run_benchmark(
        "scale_out",
        "scale-out: SQLite, PostgreSQL with 1, 2 and 3 replicas",
        __doc__,
        argv,
        lambda args: run(
            QUICK if args.quick else FULL, args.only.split(","), args.keep, args.profile
        ),
        report,
        limit=3600,
        profile_help="sample the first replica with py-spy during the SMS window",
        options=options,
    )


if __name__ == "__main__":
    raise SystemExit(main())
