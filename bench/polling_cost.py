"""API reads per minute per key against active orders: ``python -m bench.polling_cost``.

The real bot process (default ``POLL_INTERVAL`` of 3 s) tracks four users whose keys have
1, 5, 10 and 20 active orders (no SMS arrives, so every order stays active). After the bot
has posted every order card, reads are counted per key from the sandbox's request log over a
steady window. Also reported: the busiest 60 s of each key over the whole run (start-up
included), against the background budget of the client's limiter.

Targets: reads with 20 orders ≤ 1.5 x reads with 1 order, and never above
``RateLimits.reads - RateLimits.read_reserve`` (60 - 20 = 40) in any 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from typing import Any

from bench.common import (
    BotRun,
    SeedUser,
    create_orders,
    fakes,
    run_benchmark,
    seed_bulk,
    workdir,
)
from bot.api.limiter import RateLimits
from bot.fakebotapi import RequestRecord
from bot.sandbox.ratelimit import Bucket
from bot.sandbox.stats import key_fingerprint

ORDER_COUNTS = (1, 5, 10, 20)
RATIO_TARGET = 1.5
BUDGET = RateLimits().reads - RateLimits().read_reserve


async def run(window: float, keep: bool) -> dict[str, Any]:
    """Measure over a steady ``window`` of seconds; returns the figures."""
    rng = random.Random(7)
    with workdir(keep) as tmp:
        async with fakes() as (sandbox, telegram):
            users, keys = [], {}
            for index, count in enumerate(ORDER_COUNTS):
                key = sandbox.create_account(balance_cents=1_000_000)
                user_id = 200_000 + index
                users.append(SeedUser(user_id, key, create_orders(sandbox, key, count, rng)))
                keys[count] = key
                telegram.user(user_id, first_name=f"User{count}").chat.started = True
            await seed_bulk(tmp / "data", users)

            cards = asyncio.Event()
            posted = 0

            def listener(record: RequestRecord) -> None:
                nonlocal posted
                text = record.params.get("text", "")
                if record.method == "sendMessage" and record.status == 200 and text[:1] == "📱":
                    posted += 1
                    if posted >= sum(ORDER_COUNTS):
                        cards.set()

            telegram.subscribe(listener)
            bot = BotRun(telegram, sandbox.base_url, tmp / "data", poll_interval=3.0)
            await bot.start()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cards.wait(), 90)
                await asyncio.sleep(6.0)  # two more ticks: the steady state
                t0 = time.time()
                await asyncio.sleep(window)
                t1 = time.time()
            finally:
                await bot.stop()
            log = sandbox.request_log
            per_key: dict[int, dict[str, Any]] = {}
            for count, key in keys.items():
                fingerprint = key_fingerprint(key)
                reads = [
                    r
                    for r in log
                    if r.key_fp == fingerprint and r.bucket is Bucket.READ and t0 <= r.at < t1
                ]
                lists = sum(1 for r in reads if r.path.rstrip("/").endswith("/v1/orders"))
                per_key[count] = {
                    "reads_per_min": round(len(reads) * 60 / (t1 - t0), 1),
                    "list_reads_per_min": round(lists * 60 / (t1 - t0), 1),
                    "order_reads_per_min": round((len(reads) - lists) * 60 / (t1 - t0), 1),
                    "peak_60s": log.peak(key, Bucket.READ, 60.0),
                }
            limited = sandbox.stats()["rateLimited"]
    return {
        "window_s": round(t1 - t0, 1),
        "cards_posted": posted,
        "per_key": per_key,
        "sandbox_429": limited,
        "budget": BUDGET,
    }


def report(r: dict[str, Any]) -> tuple[bool, str]:
    """Print the table; whether the targets are met and the verdict line."""
    print(f"   steady window {r['window_s']} s; reads per minute per key (POLL_INTERVAL 3 s):")
    print("   orders  reads/min  (list + per-order)  busiest 60 s")
    for count, k in r["per_key"].items():
        print(
            f"   {count:>6}  {k['reads_per_min']:>9}  ({k['list_reads_per_min']:>5} + "
            f"{k['order_reads_per_min']:>5})        {k['peak_60s']:>4}"
        )
    one, twenty = r["per_key"][1]["reads_per_min"], r["per_key"][20]["reads_per_min"]
    ratio = twenty / one if one else float("inf")
    peak = max(k["peak_60s"] for k in r["per_key"].values())
    r["ratio_20_to_1"] = round(ratio, 2)
    print(f"   20 orders / 1 order = {ratio:.2f}; sandbox 429s: {r['sandbox_429']}")
    met = ratio <= RATIO_TARGET and peak <= BUDGET and r["sandbox_429"] == 0
    verdict = (
        f"20 orders cost {ratio:.2f}x the reads of 1 (≤ {RATIO_TARGET}), busiest 60 s "
        f"{peak} reads (≤ {BUDGET}), {r['sandbox_429']} sandbox 429s"
    )
    return met, verdict


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(
        "polling_cost",
        "polling cost: API reads per key and minute",
        __doc__,
        argv,
        lambda args: run(30.0 if args.quick else 180.0, args.keep),
        report,
        limit=600,
    )


if __name__ == "__main__":
    raise SystemExit(main())
