"""Peak memory and start time with a large database: ``python -m bench.memory [--quick]``.

SQLite is seeded with 10,000 users (every one with a linked, encrypted key; 60 % with the chat
state (``users.dialog``) earlier conversations left) of whom 1,000 have between them 2,000 active
orders, which exist in the sandbox. The real bot process (``python -m bot``, default
``POLL_INTERVAL``) then starts; start time is from just before ``exec`` until its first
``deleteWebhook``/``getUpdates`` reaches the fake Bot API. It runs on while it posts the
2,000 order cards (Telegram's 30 messages/s) and polls every order; peak RSS is the kernel's
high-water mark (``VmHWM``) read just before it is stopped. The same start is also timed
with an empty database, for reference.

Targets: peak RSS ≤ 150 MB, start ≤ 3 s.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import (
    BotRun,
    SeedUser,
    ShiftedClock,
    create_orders,
    fakes,
    run_benchmark,
    seed_bulk,
    workdir,
)
from bot.fakebotapi import RequestRecord
from bot.sandbox import SandboxConfig

RSS_TARGET_MB = 150.0
START_TARGET_S = 3.0
LANGUAGES = ("en", "en", "en", "ru", "zh_Hans", "es", "pt", "it")
# (users, orders each) among the users with active orders.
_MIX = ((600, 1), (250, 2), (100, 4), (50, 10))


@dataclass(frozen=True, slots=True)
class Size:
    """How big a run is: ``scale`` of the 1,000 users with orders; run time after start."""

    users: int
    scale: float
    run_for: float


FULL = Size(users=10_000, scale=1.0, run_for=120.0)
QUICK = Size(users=1_000, scale=0.1, run_for=20.0)


def dialog(rng: random.Random) -> dict[str, Any] | None:
    """What earlier /orders and /buy conversations typically leave in ``users.dialog``."""
    if rng.random() >= 0.6:
        return None
    cursor = "ck" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=23))
    return {"history_cursors": [None, cursor], "country_service": rng.choice(["wa", "tg", "go"])}


async def run(size: Size, keep: bool) -> dict[str, Any]:
    """Seed, start, run, sample; returns the figures."""
    rng = random.Random(10_000)
    clock = ShiftedClock()
    with workdir(keep) as tmp:
        async with fakes(sandbox_config=SandboxConfig(sms_delay=None), clock=clock) as (
            sandbox,
            telegram,
        ):
            empty = BotRun(telegram, sandbox.base_url, tmp / "empty" / "data")
            empty_start = await empty.start()
            await empty.stop()

            counts = [n for users, n in _MIX for _ in range(round(users * size.scale))]
            users = []
            for index in range(size.users):
                user_id = 300_000 + index
                key = f"jm_bench{index:08d}{'x' * 24}"
                orders: list[dict[str, Any]] = []
                if index < len(counts):
                    sandbox.create_account(key, balance_cents=1_000_000)
                    orders = create_orders(
                        sandbox, key, counts[index], rng, clock=clock, max_age=600.0
                    )
                    telegram.user(user_id, first_name=f"User{index}").chat.started = True
                users.append(SeedUser(user_id, key, orders, rng.choice(LANGUAGES), dialog(rng)))
            seeded = await seed_bulk(tmp / "data", users)
            active = sum(counts)
            print(f"   seeded {len(users)} users, {active} active orders in {seeded:.2f} s")

            posted = limited = 0

            def listener(record: RequestRecord) -> None:
                nonlocal posted, limited
                if record.method != "sendMessage" or record.params.get("text", "")[:1] != "📱":
                    return
                if record.status == 200:
                    posted += 1
                elif record.status == 429:
                    limited += 1

            telegram.subscribe(listener)
            bot = BotRun(telegram, sandbox.base_url, tmp / "data")
            started = await bot.start()
            at_start = bot.sample()
            timeline: list[tuple[int, float]] = []
            began = time.monotonic()
            try:
                while (elapsed := time.monotonic() - began) < size.run_for:
                    await asyncio.sleep(1.0)
                    if round(elapsed) % max(1, round(size.run_for / 8)) == 0:
                        timeline.append((round(elapsed), round(bot.sample().rss_mb, 1)))
                final = bot.sample()
            finally:
                await bot.stop()
    return {
        "users": len(users),
        "active_orders": active,
        "start_s": round(started, 2),
        "start_empty_db_s": round(empty_start, 2),
        "rss_at_start_mb": round(at_start.rss_mb, 1),
        "rss_end_mb": round(final.rss_mb, 1),
        "peak_rss_mb": round(final.peak_rss_mb, 1),
        "cpu_s": round(final.cpu_seconds, 1),
        "run_s": size.run_for,
        "cards_posted": posted,
        "telegram_429": limited,
        "rss_timeline_mb": timeline,
    }


def report(r: dict[str, Any]) -> tuple[bool, str]:
    """Print the figures; whether the targets are met and the verdict line."""
    print(f"   {r['users']} users, {r['active_orders']} active orders")
    print(
        f"   start: {r['start_s']:.2f} s to the first getUpdates/deleteWebhook "
        f"(empty database: {r['start_empty_db_s']:.2f} s)"
    )
    print(
        f"   RSS: {r['rss_at_start_mb']} MB when polling began, {r['rss_end_mb']} MB after "
        f"{r['run_s']:.0f} s ({r['cards_posted']} cards posted, {r['telegram_429']} Telegram "
        f"429s); peak (VmHWM) {r['peak_rss_mb']} MB; CPU {r['cpu_s']} s"
    )
    print("   RSS over time (s: MB): " + ", ".join(f"{t}: {mb}" for t, mb in r["rss_timeline_mb"]))
    met = r["peak_rss_mb"] <= RSS_TARGET_MB and r["start_s"] <= START_TARGET_S
    verdict = (
        f"peak RSS {r['peak_rss_mb']} MB (≤ {RSS_TARGET_MB:.0f}), start {r['start_s']:.2f} s "
        f"(≤ {START_TARGET_S:.0f})"
    )
    return met, verdict


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(
        "memory",
        "memory and start time: 10,000 users, 2,000 active orders",
        __doc__,
        argv,
        lambda args: run(QUICK if args.quick else FULL, args.keep),
        report,
        limit=600,
    )


if __name__ == "__main__":
    raise SystemExit(main())
