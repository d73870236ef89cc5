"""Mini App catalogue reads under load: ``python -m bench.webapp [--quick]``.

The real bot process (``python -m bot``, polling the fake Bot API, its Mini App on its own
HTTP server at ``WEBAPP_URL``) serves 50 users with linked keys, seeded in its SQLite. Each
user is a page in a closed loop, as the Mini App calls the API: ``GET /app/api/services``
(the whole catalogue, 700 services with price and stock, 61 KB), then the countries of two
services (``GET /app/api/services/{code}/countries``, 15-175 countries, up to 26 KB; drawn
from the 40 most popular services, every country of them with a week of delivery-rate
counters, so each row carries its rate and the "best chance" rank), and again; every
request carries the user's own signed ``initData`` (``Authorization: tma …``), checked by
the bot as from Telegram. Between two requests a user waits a think time drawn uniformly
from 0.5-1.5 s (a person tapping quickly; 50 users make ~50 requests/s). Latency is from
sending the request to having read the whole answer, on one keep-alive connection per user,
all on 127.0.0.1.

A second phase, for information only, drops the think time: 50 users back to back show the
throughput the bot reaches and what latency costs at saturation (there, by Little's law,
latency is 50 / throughput whatever the code does).

A third phase opens the page itself in Debian's Chromium (Playwright, headless), signed in
as one of the users, and times the service search as the page runs it: for each query,
from setting the search box to the list redrawn (the input handler filters all 700 services
synchronously), 20 times each, after the 50 users have stopped.

A fourth phase restarts the bot with the Mini App's shipped limits (the phases above raise
``WEBAPP_RATE``/``WEBAPP_BURST`` out of the way: they measure serving, not limiting) and
lets one user flood it: 20 connections back to back, cycling a session read (a balance
read from jiema with the user's key), a quote of a made-up service and the catalogue,
while the other 49 users browse as in the first phase. It reports the 49 users' latency
and the flooder's answers (mostly 429: the per-user limit; ``BUSY`` once the key's API
budget is spent).

Targets: p99 < 50 ms for each of the two reads in the first phase, no error; the search's
slowest redraw under 100 ms ("no visible delay"); under the flood, the other users' p99 <
50 ms with no error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from bench.common import (
    TOKEN,
    BotRun,
    SeedUser,
    fakes,
    percentile,
    proc_sample,
    run_benchmark,
    seed_bulk,
    workdir,
)
from bot.fakebotapi import sign_init_data
from bot.store.store import SQLITE_FILE
from tests.browser import chromium

P99_TARGET_MS = 50.0
USERS = 50
THINK = (0.5, 1.5)
SERVICES = "services"
COUNTRIES = "countries"
FLOOD_CONNECTIONS = 20
UNLIMITED = {"WEBAPP_RATE": "60000", "WEBAPP_BURST": "10000"}  # phases that measure serving


@dataclass(frozen=True, slots=True)
class Size:
    """How long each phase runs."""

    warmup: float  # seconds of load before measuring (caches filled, connections open)
    paced: float  # seconds measured with think time
    saturated: float  # seconds measured back to back
    search_rounds: int  # times each search query is timed in the page
    flooded: float  # seconds measured while one user floods


FULL = Size(warmup=10.0, paced=120.0, saturated=30.0, search_rounds=20, flooded=60.0)
QUICK = Size(warmup=3.0, paced=15.0, saturated=5.0, search_rounds=3, flooded=10.0)


@dataclass(slots=True)
class Samples:
    """Latencies (ms) per read, and what went wrong."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {SERVICES: [], COUNTRIES: []})
    errors: dict[str, int] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)  # largest answer body, bytes

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _init_data(user_id: int) -> str:
    """What Telegram hands the page for ``user_id`` (signed with the bot's token)."""
    user = {"id": user_id, "first_name": f"User{user_id}", "language_code": "en"}
    return sign_init_data(TOKEN, user, auth_date=int(time.time()), query_id=f"Q{user_id}")


async def _read(
    http: aiohttp.ClientSession, url: str, auth: str, kind: str, samples: Samples | None
) -> None:
    started = time.perf_counter()
    try:
        async with http.get(url, headers={"Authorization": auth}) as answer:
            body = await answer.read()
            status = answer.status
    except aiohttp.ClientError as exc:
        if samples is not None:
            samples.error(type(exc).__name__)
        return
    spent = (time.perf_counter() - started) * 1000
    if samples is None:
        return
    if status != 200 or not body.startswith(b'{"ok": true'):
        samples.error(f"HTTP {status}")
    else:
        samples.ms[kind].append(spent)
        samples.size[kind] = max(samples.size.get(kind, 0), len(body))


async def _user(
    base: str,
    user_id: int,
    codes: Sequence[str],
    rng: random.Random,
    think: tuple[float, float] | None,
    phases: list[Samples | None],
    until: float,
) -> None:
    """One page: services, two countries lists, again, until ``until`` (monotonic).

    ``phases[0]`` is where samples go now (None while warming up); the caller swaps it.
    """
    auth = "tma " + _init_data(user_id)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.sleep(rng.uniform(0.0, think[1] if think else 0.05))  # users arrive
        step = 0
        while time.monotonic() < until:
            if step % 3 == 0:
                await _read(http, f"{base}/app/api/services", auth, SERVICES, phases[0])
            else:
                code = rng.choice(codes)
                url = f"{base}/app/api/services/{code}/countries"
                await _read(http, url, auth, COUNTRIES, phases[0])
            step += 1
            if think is not None:
                await asyncio.sleep(rng.uniform(*think))


async def _flooder(base: str, user_id: int, until: float, tally: Counter[str]) -> None:
    """One user's connections back to back: session, a made-up quote, the catalogue."""
    headers = {"Authorization": "tma " + _init_data(user_id)}
    connector = aiohttp.TCPConnector(limit=FLOOD_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def connection(n: int) -> None:
            while time.monotonic() < until:
                n += 1
                if n % 3 == 0:
                    body = {"service": f"zz{n}", "country": 7}
                    request = http.post(f"{base}/app/api/quote", json=body)
                else:
                    request = http.get(f"{base}/app/api/{('session', 'services')[n % 3 - 1]}")
                try:
                    async with request as answer:
                        body = await answer.json()
                        tally[f"{answer.status} {body.get('code') or 'OK'}"] += 1
                except aiohttp.ClientError as exc:
                    tally[type(exc).__name__] += 1

        await asyncio.gather(*(connection(n) for n in range(FLOOD_CONNECTIONS)))


async def _phase(
    base: str,
    codes: Sequence[str],
    rng: random.Random,
    think: tuple[float, float] | None,
    warmup: float,
    measured: float,
    bot: BotRun,
    *,
    flood: bool = False,
) -> dict[str, Any]:
    """Run the users for ``warmup`` + ``measured`` seconds; figures of the measured part.

    With ``flood``, the first user floods (:func:`_flooder`) instead of browsing.
    """
    phases: list[Samples | None] = [None]
    start = time.monotonic()
    until = start + warmup + measured
    tally: Counter[str] = Counter()
    users = [
        asyncio.create_task(
            _flooder(base, 500_000 + n, until, tally)
            if flood and n == 0
            else _user(base, 500_000 + n, codes, random.Random(rng.random()), think, phases, until)
        )
        for n in range(USERS)
    ]
    try:
        await asyncio.sleep(warmup)
        samples = Samples()
        phases[0] = samples
        before, harness_before, t0 = bot.sample(), proc_sample(), time.monotonic()
        await asyncio.sleep(measured)
        phases[0] = None
        after, harness_after, t1 = bot.sample(), proc_sample(), time.monotonic()
        await asyncio.gather(*users)
    finally:
        for task in users:
            task.cancel()
    elapsed = t1 - t0
    figures: dict[str, Any] = {
        "seconds": round(elapsed, 1),
        "errors": samples.errors,
        "bot_cpu_pct": round(100 * (after.cpu_seconds - before.cpu_seconds) / elapsed, 1),
        "harness_cpu_pct": round(
            100 * (harness_after.cpu_seconds - harness_before.cpu_seconds) / elapsed, 1
        ),
        "bot_peak_rss_mb": round(after.peak_rss_mb, 1),
    }
    total = 0
    for kind, values in samples.ms.items():
        total += len(values)
        figures[kind] = {
            "requests": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values, default=float("nan")), 1),
            "largest_answer_kb": round(samples.size.get(kind, 0) / 1024, 1),
        }
    figures["requests_per_s"] = round(total / elapsed, 1)
    if flood:
        figures["flood"] = dict(tally.most_common())
    return figures


SEARCHES = ("a", "whats", "tele", "x", "")
SEARCH_TARGET_MS = 100.0
_TIME_SEARCH = """(q) => {
    const input = document.getElementById("service-search");
    const start = performance.now();
    input.value = q;
    input.dispatchEvent(new Event("input"));
    return performance.now() - start;
}"""


async def _search(base: str, user_id: int, rounds: int) -> dict[str, Any]:
    """Milliseconds the page takes to filter the services, per query (max over rounds)."""
    fragment = "tgWebAppData=" + quote(_init_data(user_id), safe="") + "&tgWebAppVersion=8.0"
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{base}/app/#{fragment}")
        await page.locator("#services li").first.wait_for()
        spent: dict[str, list[float]] = {q: [] for q in SEARCHES}
        for _ in range(rounds):
            for query in SEARCHES:
                spent[query].append(await page.evaluate(_TIME_SEARCH, query))
        shown = await page.locator("#services li").count()
    return {
        "services_shown_unfiltered": shown,
        "max_ms": {q or "(empty)": round(max(v), 1) for q, v in spent.items()},
        "median_ms": {q or "(empty)": round(percentile(v, 50), 1) for q, v in spent.items()},
    }


_INSERT_RATES = "INSERT INTO delivery_rates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _seed_rates(path: Path, sandbox: Any, codes: Sequence[str], rng: random.Random) -> None:
    """A week of delivery-rate counters for every country of ``codes`` (as the tracker
    writes them, in one transaction)."""
    catalogue = sandbox.engine.catalogue
    today = datetime.now(UTC).date()
    rows = []
    for code in codes:
        for offer in catalogue.offers(catalogue.service(code)):
            for days_ago in range(7):
                orders = rng.randint(1, 4)
                delivered = rng.randint(0, orders)
                waits = [0] * 10
                for _ in range(delivered):
                    waits[rng.randrange(10)] += 1
                day = (today - timedelta(days=days_ago)).isoformat()
                rows.append((code, str(offer.country_id), day, orders, delivered, *waits))
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executemany(_INSERT_RATES, rows)


async def run(size: Size, keep: bool) -> dict[str, Any]:
    """Both phases against one bot process; returns the figures."""
    rng = random.Random(20261201)
    with workdir(keep) as tmp:
        async with fakes() as (sandbox, telegram):
            users = []
            for n in range(USERS):
                key = sandbox.create_account(balance_cents=100_000)
                users.append(SeedUser(500_000 + n, key))
                telegram.user(500_000 + n, first_name=f"User{n}").chat.started = True
            await seed_bulk(tmp / "data", users)
            codes = [s.code for s in sandbox.engine.catalogue.services[:40]]
            _seed_rates(tmp / "data" / SQLITE_FILE, sandbox, codes, rng)
            bot = BotRun(telegram, sandbox.base_url, tmp / "data", env=UNLIMITED)
            base = bot.http_url  # on its own free port
            bot.env["WEBAPP_URL"] = f"{base}/app/"
            started = await bot.start()
            try:
                await asyncio.wait_for(bot.healthy(), 30.0)
                paced = await _phase(base, codes, rng, THINK, size.warmup, size.paced, bot)
                saturated = await _phase(base, codes, rng, None, 1.0, size.saturated, bot)
                search = await _search(base, users[0].user_id, size.search_rounds)
            finally:
                await bot.stop()
            bot = BotRun(telegram, sandbox.base_url, tmp / "data", name="limited")
            bot.env["WEBAPP_URL"] = f"{bot.http_url}/app/"  # the shipped limits
            await bot.start()
            try:
                await asyncio.wait_for(bot.healthy(), 30.0)
                flooded = await _phase(
                    bot.http_url, codes, rng, THINK, size.warmup, size.flooded, bot, flood=True
                )
            finally:
                await bot.stop()
            catalogue = len(sandbox.engine.catalogue.services)
    return {
        "users": USERS,
        "think_s": list(THINK),
        "services_in_catalogue": catalogue,
        "start_s": round(started, 2),
        "paced": paced,
        "saturated": saturated,
        "search": search,
        "flooded": flooded,
    }


def _line(name: str, figures: dict[str, Any]) -> str:
    return (
        f"{name:<10} {figures['requests']:>6} reads  p50 {figures['p50_ms']:>6.1f} ms  "
        f"p95 {figures['p95_ms']:>6.1f} ms  p99 {figures['p99_ms']:>6.1f} ms  "
        f"max {figures['max_ms']:>6.1f} ms  (answers up to {figures['largest_answer_kb']} KB)"
    )


def report(r: dict[str, Any]) -> tuple[bool, str]:
    """Print the figures; whether the target is met and the one-line verdict."""
    think = r["think_s"]
    print(f"   catalogue: {r['services_in_catalogue']} services; bot started in {r['start_s']} s")
    for title, key in (
        (f"{r['users']} users, think time {think[0]}-{think[1]} s", "paced"),
        (f"{r['users']} users back to back (saturation, information only)", "saturated"),
    ):
        phase = r[key]
        print(f"   {title}: {phase['requests_per_s']} reads/s over {phase['seconds']} s")
        for kind in (SERVICES, COUNTRIES):
            print(f"     {_line(kind, phase[kind])}")
        print(
            f"     errors {phase['errors'] or 0}; bot CPU {phase['bot_cpu_pct']}% of a core, "
            f"peak RSS {phase['bot_peak_rss_mb']} MB; harness {phase['harness_cpu_pct']}%"
        )
    flooded = r["flooded"]
    print(
        f"   {r['users'] - 1} users browsing while one floods with {FLOOD_CONNECTIONS} "
        f"connections (shipped limits): {flooded['requests_per_s']} reads/s"
    )
    for kind in (SERVICES, COUNTRIES):
        print(f"     {_line(kind, flooded[kind])}")
    print(f"     errors {flooded['errors'] or 0}; the flooder's answers: {flooded['flood']}")
    search = r["search"]
    print(
        f"   search in Chromium ({search['services_shown_unfiltered']} services listed): "
        + ", ".join(
            f"{q!r} median {search['median_ms'][q]} ms, max {ms} ms"
            for q, ms in search["max_ms"].items()
        )
    )
    slowest = max(search["max_ms"].values())
    paced = r["paced"]
    p99 = {kind: paced[kind]["p99_ms"] for kind in (SERVICES, COUNTRIES)}
    others = {kind: flooded[kind]["p99_ms"] for kind in (SERVICES, COUNTRIES)}
    met = (
        not paced["errors"]
        and all(v < P99_TARGET_MS for v in p99.values())
        and slowest < SEARCH_TARGET_MS
        and not flooded["errors"]
        and all(v < P99_TARGET_MS for v in others.values())
    )
    verdict = (
        f"p99 services {p99[SERVICES]:.1f} ms, countries {p99[COUNTRIES]:.1f} ms "
        f"(< {P99_TARGET_MS:.0f}) with {r['users']} users at {paced['requests_per_s']} reads/s; "
        f"{sum(paced['errors'].values())} errors; saturation "
        f"{r['saturated']['requests_per_s']} reads/s; slowest search redraw {slowest} ms "
        f"(< {SEARCH_TARGET_MS:.0f}); while one user floods, the others' p99 services "
        f"{others[SERVICES]:.1f} ms, countries {others[COUNTRIES]:.1f} ms"
    )
    return met, verdict


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(
        "webapp",
        "webapp: Mini App catalogue reads, 50 concurrent users",
        __doc__,
        argv,
        lambda args: run(QUICK if args.quick else FULL, args.keep),
        report,
        limit=600,
    )


if __name__ == "__main__":
    raise SystemExit(main())
