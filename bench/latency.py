"""Code-to-chat latency at scale: ``python -m bench.latency [--quick]``.

The real bot process (``python -m bot``, default ``POLL_INTERVAL`` of 3 s) tracks 1,000
active orders on 300 keys, seeded in its SQLite as if bought earlier (the orders exist in
the sandbox engine, created up to five minutes in the past so their countdowns do not all
step at once). Once the bot has posted every order card, each order gets one SMS at a
random moment over the next three minutes: the sandbox applies it lazily *at that moment*,
which is the SMS's arrival time. Latency is from that arrival to the moment the fake Bot API
receives the ``sendMessage`` carrying the code. The fake's flood limits are Telegram's
(burst 10 then 1/s per chat, 30/s overall).

Targets: p50 ≤ 2 s, p99 ≤ 4.5 s, no 429 from the jiema API, every code delivered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import (
    BotRun,
    SeedUser,
    ShiftedClock,
    create_orders,
    fakes,
    percentile,
    proc_sample,
    run_benchmark,
    seed_bulk,
    start_py_spy,
    summarize_collapsed,
    workdir,
)
from bot.fakebotapi import RequestRecord
from bot.sandbox import SandboxConfig, SandboxServer
from bot.sandbox.ratelimit import Bucket
from bot.sms import extract_code

P50_TARGET = 2.0
P99_TARGET = 4.5
# Orders per key, per 30 keys: most users have one or a few numbers, a few have many.
_MIX = ((10, 1), (10, 3), (8, 4), (2, 14))


@dataclass(frozen=True, slots=True)
class Size:
    """How big a run is."""

    keys: int
    spread: float  # seconds over which the SMS arrive
    warmup_limit: float  # seconds allowed for posting every card

    @property
    def per_key(self) -> list[int]:
        factor = self.keys // 30
        return [orders for count, orders in _MIX for _ in range(count * factor)]


FULL = Size(keys=300, spread=180.0, warmup_limit=180.0)
QUICK = Size(keys=30, spread=45.0, warmup_limit=60.0)


class Observer:
    """Collects the bot's order cards and code messages as the fake receives them.

    Args:
        orders: How many orders there are: ``all_cards``/``all_codes`` are set at that count.
    """

    def __init__(self, orders: int) -> None:
        self.orders = orders
        self.cards = 0
        self.codes: dict[int, list[tuple[str, float]]] = defaultdict(list)
        self.code_count = 0
        self.all_cards = asyncio.Event()
        self.all_codes = asyncio.Event()

    def __call__(self, record: RequestRecord) -> None:
        if record.method != "sendMessage" or record.status != 200:
            return
        text = record.params.get("text", "")
        if text.startswith("📱"):
            self.cards += 1
            if self.cards >= self.orders:
                self.all_cards.set()
        elif "<code>" in text and "SMS for" in text:
            self.codes[int(record.params["chat_id"])].append((text, record.received_at))
            self.code_count += 1
            if self.code_count >= self.orders:
                self.all_codes.set()


async def wait_for(event: asyncio.Event, limit: float) -> float:
    """Wait for ``event`` at most ``limit`` seconds; the seconds waited."""
    started = time.monotonic()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), limit)
    return time.monotonic() - started


def latencies(
    sandbox: SandboxServer, owners: dict[str, int], observer: Observer
) -> tuple[list[float], int, int]:
    """Latency of every delivered code; the numbers of missing and repeated codes."""
    found, missing, repeated = [], 0, 0
    for order_id, user_id in owners.items():
        snapshot = sandbox.order_snapshot(order_id)
        if not snapshot["sms"]:
            missing += 1
            continue
        sms = snapshot["sms"][0]
        code = extract_code(sms["body"])
        hits = [
            at
            for text, at in observer.codes.get(user_id, [])
            if snapshot["phone"] in text and f"<code>{code}</code>" in text
        ]
        if not hits:
            missing += 1
            continue
        repeated += len(hits) - 1
        found.append(min(hits) - sms["receivedAt"])
    return found, missing, repeated


async def run(size: Size, keep: bool, profile: bool = False) -> dict[str, Any]:
    """One full measurement; returns the figures."""
    rng = random.Random(20260522)
    clock = ShiftedClock()
    config = SandboxConfig(sms_delay=None)
    with workdir(keep) as tmp:
        async with fakes(sandbox_config=config, clock=clock) as (sandbox, telegram):
            users, owners, keys = [], {}, []
            for index, count in enumerate(size.per_key):
                key = sandbox.create_account(balance_cents=10_000_000)
                orders = create_orders(sandbox, key, count, rng, clock=clock, max_age=300.0)
                user_id = 100_000 + index
                users.append(SeedUser(user_id, key, orders))
                owners.update({str(o["id"]): user_id for o in orders})
                keys.append(key)
                telegram.user(user_id, first_name=f"User{index}").chat.started = True
            seeded = await seed_bulk(tmp / "data", users)
            print(f"   seeded {len(users)} keys, {len(owners)} orders in {seeded:.2f} s")

            observer = Observer(len(owners))
            telegram.subscribe(observer)
            bot = BotRun(telegram, sandbox.base_url, tmp / "data", poll_interval=3.0)
            started = await bot.start()
            try:
                warmup = await wait_for(observer.all_cards, size.warmup_limit)
                print(f"   bot up in {started:.2f} s; {observer.cards} cards in {warmup:.1f} s")
                await asyncio.sleep(3.0)
                before = bot.sample()
                harness_before = proc_sample()
                limited_before = sandbox.stats()["rateLimited"]
                requests_before = len(telegram.requests)
                spy = None
                if profile and shutil.which("py-spy"):
                    spy = start_py_spy(bot.pid, size.spread, tmp / "profile.collapsed")
                t0 = time.time()
                for order_id in owners:
                    sandbox.engine.order(order_id).sms_due_at = (
                        t0 + 2.0 + rng.uniform(0.0, size.spread)
                    )
                window = await wait_for(observer.all_codes, size.spread + 30.0)
                await asyncio.sleep(3.0)  # a late duplicate would show here
                after = bot.sample()
                harness_after = proc_sample()
            finally:
                await bot.stop()
            if spy is not None:
                await asyncio.to_thread(spy.wait, 60)
                for line in summarize_collapsed(tmp / "profile.collapsed", size.spread):
                    print(f"   {line}")
            found, missing, repeated = latencies(sandbox, owners, observer)
            stats = sandbox.stats()
            telegram_status = Counter(r.status for r in telegram.requests)
            window_429 = sum(1 for r in telegram.requests[requests_before:] if r.status == 429)
            read_peak = max(sandbox.request_log.peak(key, Bucket.READ, 60.0) for key in keys)
            elapsed = window + 3.0
    return {
        "keys": len(keys),
        "orders": len(owners),
        "spread_s": size.spread,
        "start_s": round(started, 2),
        "warmup_cards_s": round(warmup, 1),
        "delivered": len(found),
        "missing": missing,
        "repeated": repeated,
        "p50_s": round(percentile(found, 50), 3),
        "p95_s": round(percentile(found, 95), 3),
        "p99_s": round(percentile(found, 99), 3),
        "max_s": round(max(found, default=float("nan")), 3),
        "mean_s": round(sum(found) / len(found), 3) if found else None,
        "sandbox_429": stats["rateLimited"],
        "sandbox_429_in_window": stats["rateLimited"] - limited_before,
        "max_reads_per_key_60s": read_peak,
        "telegram_429": telegram_status.get(429, 0),
        "telegram_429_in_window": window_429,
        "telegram_other_errors": sum(n for s, n in telegram_status.items() if s not in (200, 429)),
        "telegram_requests": len(telegram.requests),
        "bot_cpu_s_window": round(after.cpu_seconds - before.cpu_seconds, 2),
        "bot_cpu_s_total": round(after.cpu_seconds, 2),
        "bot_cpu_pct_window": round(100 * (after.cpu_seconds - before.cpu_seconds) / elapsed, 1),
        "bot_peak_rss_mb": round(after.peak_rss_mb, 1),
        "harness_cpu_pct_window": round(
            100 * (harness_after.cpu_seconds - harness_before.cpu_seconds) / elapsed, 1
        ),
    }


def report(r: dict[str, Any]) -> tuple[bool, str]:
    """Print the figures; whether the targets are met and the one-line verdict."""
    print(f"   {r['orders']} orders on {r['keys']} keys, SMS spread over {r['spread_s']:.0f} s")
    print(
        f"   latency: p50 {r['p50_s']:.2f} s  p95 {r['p95_s']:.2f} s  "
        f"p99 {r['p99_s']:.2f} s  max {r['max_s']:.2f} s  mean {r['mean_s']} s"
    )
    print(
        f"   delivered {r['delivered']}/{r['orders']}, missing {r['missing']}, "
        f"repeated {r['repeated']}"
    )
    print(
        f"   sandbox 429s: {r['sandbox_429']} (busiest key: {r['max_reads_per_key_60s']} "
        f"reads in 60 s)  Telegram 429s: {r['telegram_429']} "
        f"({r['telegram_429_in_window']} while the SMS arrived), other errors: "
        f"{r['telegram_other_errors']} of {r['telegram_requests']} calls"
    )
    print(
        f"   bot CPU: {r['bot_cpu_s_window']} s in the SMS window ({r['bot_cpu_pct_window']}% "
        f"of a core), {r['bot_cpu_s_total']} s in all; peak RSS {r['bot_peak_rss_mb']} MB; "
        f"harness process {r['harness_cpu_pct_window']}% of a core"
    )
    met = (
        r["p50_s"] <= P50_TARGET
        and r["p99_s"] <= P99_TARGET
        and r["sandbox_429"] == 0
        and r["missing"] == 0
        and r["repeated"] == 0
    )
    verdict = (
        f"p50 {r['p50_s']:.2f} s (≤ {P50_TARGET}), p99 {r['p99_s']:.2f} s (≤ {P99_TARGET}), "
        f"{r['sandbox_429']} sandbox 429s (0), {r['missing']} missing, {r['repeated']} repeated"
    )
    return met, verdict


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(
        "latency",
        "latency: SMS arrival to sendMessage at the fake Bot API",
        __doc__,
        argv,
        lambda args: run(QUICK if args.quick else FULL, args.keep, args.profile),
        report,
        limit=900,
        profile_help="sample the bot with py-spy during the SMS",
    )


if __name__ == "__main__":
    raise SystemExit(main())
