"""Updates handled per second, our bot vs a bare PTB echo bot: ``python -m bench.throughput``.

Many fake users (250; each with a linked key and three finished orders) talk to the bot
through the fake Bot API at once, each in a closed loop (next update as soon as the bot has
answered the last one), repeating a realistic session of eight updates::

    /start · /buy · next page · next page · pick a service · countries page 2 ·
    /orders · open an order card

An update counts as handled when everything it causes has reached the fake: the reply
(``sendMessage``), or the callback answer and then the edit (or, for an order card, the new
card). The same users then drive a bare PTB echo bot (``bench.echobot``: echoes text,
answers buttons) through the same fake server in the same run, with the same sequence of
texts and callback data. The two are measured in three rounds of 20 s each, alternating
which goes first (:func:`schedule`), and the verdict is the median of the rounds' ratios.

The fake's flood control is OFF (``flood=None``) so that Telegram's pacing does not set the
rate. Our bot also paces itself client-side (``bot.ratelimit``: 30 messages/s overall, about
1/s per chat, as Telegram requires), so it is measured twice: as shipped (``python -m bot``)
and with that limiter replaced by none (``bench.botrunner`` with ``BENCH_UNPACED=1``), which
is what the ratio compares with the echo bot. CPU seconds per update of each bot process
are reported too: unlike the rate, they do not depend on how fast the harness can drive.

``--profile`` adds a run of the unpaced bot under py-spy (if on PATH; else cProfile) and
prints what dominates the bot's CPU.

Target: our rate ≥ 0.7 x the echo bot's (the median of the rounds).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.common import (
    BotRun,
    SeedUser,
    create_orders,
    fakes,
    percentile,
    proc_sample,
    run_benchmark,
    seed_bulk,
    start_py_spy,
    summarize_collapsed,
    summarize_cprofile,
    workdir,
)
from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser, RequestRecord
from bot.sandbox import SandboxServer

RATIO_TARGET = 0.7
STEP_TIMEOUT = 20.0
SERVICES = ("tg", "wa", "go", "fb", "ig", "tw", "lf", "ds", "mm", "am", "vi", "wb")


@dataclass(frozen=True, slots=True)
class Size:
    """Users driving at once, the warm-up and measured seconds of each phase, and the rounds
    of the pair compared (our unpaced bot and the echo bot)."""

    users: int
    warmup: float
    window: float
    rounds: int = 1


FULL = Size(users=250, warmup=10.0, window=20.0, rounds=3)
QUICK = Size(users=40, warmup=3.0, window=10.0)


@dataclass(slots=True)
class Step:
    """One update sent and the requests it must cause, in order (``message``, ``edit``,
    ``answer``)."""

    expect: Sequence[str]
    done: asyncio.Future[int | None]
    seen: int = 0
    message_id: int | None = None


@dataclass(slots=True)
class LoadUser:
    """A fake user with the order ids of their history."""

    user: FakeUser
    orders: list[str]
    rng: random.Random
    last: dict[str, ChatMessage] = field(default_factory=dict)


class Driver:
    """Runs the users' closed loops and matches the bot's requests to their pending steps.

    Waits go through :meth:`FakeBotApi.subscribe`, not ``FakeUser.wait_for``: with hundreds
    of users, re-checking every waiter on every change would make the fake the bottleneck.
    """

    def __init__(self, telegram: FakeBotApi, users: list[LoadUser], echo: bool) -> None:
        self.telegram = telegram
        self.users = users
        self.echo = echo
        self.pending: dict[int, Step] = {}
        self.query_owner: dict[str, int] = {}
        self.completed: list[tuple[float, float]] = []  # (finished at, took), monotonic
        self.timeouts = 0
        self.errors: Counter[str] = Counter()
        self.stop_at = 0.0

    def listener(self, record: RequestRecord) -> None:
        """Advance the step of the user a bot request belongs to."""
        if record.status != 200:
            self.errors[f"{record.method} {record.status}"] += 1
            return
        if record.method == "answerCallbackQuery":
            owner = self.query_owner.pop(record.params.get("callback_query_id", ""), None)
            kind = "answer"
        elif record.method in ("sendMessage", "editMessageText"):
            owner = int(record.params.get("chat_id", "0"))
            kind = "message" if record.method == "sendMessage" else "edit"
        else:
            return
        step = self.pending.get(owner) if owner is not None else None
        if step is None or step.done.done() or step.expect[step.seen] != kind:
            return
        step.seen += 1
        if kind == "message":
            step.message_id = record.result["message_id"]
        if step.seen == len(step.expect):
            step.done.set_result(step.message_id)

    async def _do(
        self, load: LoadUser, action: Callable[[], Awaitable[Any]], expect: Sequence[str]
    ) -> int | None:
        step = Step(expect, asyncio.get_running_loop().create_future())
        self.pending[load.user.id] = step
        started = time.monotonic()
        try:
            await action()
            message_id = await asyncio.wait_for(step.done, STEP_TIMEOUT)
        except TimeoutError:
            self.timeouts += 1
            raise
        finally:
            del self.pending[load.user.id]
        finished = time.monotonic()
        self.completed.append((finished, finished - started))
        return message_id

    async def _text(self, load: LoadUser, text: str) -> ChatMessage:
        user = load.user
        message_id = await self._do(load, lambda: user.send(text), ("message",))
        return next(m for m in reversed(user.chat.transcript) if m.message_id == message_id)

    async def _tap(self, load: LoadUser, message: ChatMessage, data: str, view: bool) -> None:
        async def tap() -> None:
            self.query_owner[load.user.tap(message, data)] = load.user.id

        if self.echo:
            expect: tuple[str, ...] = ("answer",)
        else:
            expect = ("answer", "message") if view else ("answer", "edit")
        await self._do(load, tap, expect)

    async def session(self, load: LoadUser) -> None:
        """The eight updates of one visit."""
        service = load.rng.choice(SERVICES)
        await self._text(load, "/start")
        services = await self._text(load, "/buy")
        for data in ("sp:1", "sp:2", f"s:{service}", f"cp:{service}:1"):
            await self._tap(load, services, data, view=False)
        history = await self._text(load, "/orders")
        await self._tap(load, history, f"o:v:{load.rng.choice(load.orders)}", view=True)

    async def loop(self, load: LoadUser) -> None:
        """Sessions until the phase ends; a step that times out restarts the session."""
        while time.monotonic() < self.stop_at:
            with contextlib.suppress(TimeoutError):
                await self.session(load)

    async def run(self, warmup: float, window: float) -> tuple[float, float]:
        """Drive every user for ``warmup + window`` s; the measured window (monotonic)."""
        unsubscribe = self.telegram.subscribe(self.listener)
        start = time.monotonic()
        self.stop_at = start + warmup + window
        try:
            await asyncio.gather(*(self.loop(load) for load in self.users))
        finally:
            unsubscribe()
        return start + warmup, start + warmup + window


@dataclass(slots=True)
class Phase:
    """One bot to measure: its name and how to start it."""

    name: str
    module: str
    echo: bool = False
    env: dict[str, str] = field(default_factory=dict)


async def measure(
    phase: Phase,
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    data_dir: Path,
    users: list[LoadUser],
    size: Size,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Start the bot, drive it, read CPU around the window; the figures."""
    telegram.world.updates.clear()
    bot = BotRun(telegram, sandbox.base_url, data_dir, module=phase.module, env=phase.env)
    await bot.start()
    driver = Driver(telegram, users, phase.echo)
    spy = None
    try:
        task = asyncio.ensure_future(driver.run(size.warmup, size.window))
        await asyncio.sleep(size.warmup)
        bot_before, harness_before = bot.sample(), proc_sample()
        if profile is not None and shutil.which("py-spy"):
            spy = start_py_spy(bot.pid, size.window, profile)
        await asyncio.sleep(size.window)
        bot_after, harness_after = bot.sample(), proc_sample()
        w0, w1 = await task
    finally:
        await bot.stop()
        if spy is not None:
            await asyncio.to_thread(spy.wait, 60)
    took = [t for at, t in driver.completed if w0 <= at < w1]
    bot_cpu = bot_after.cpu_seconds - bot_before.cpu_seconds
    return {
        "updates_per_s": round(len(took) / size.window, 1),
        "updates": len(took),
        "p50_ms": round(1000 * percentile(took, 50), 1),
        "p95_ms": round(1000 * percentile(took, 95), 1),
        "bot_cpu_pct": round(100 * bot_cpu / size.window, 1),
        "bot_cpu_ms_per_update": round(1000 * bot_cpu / len(took), 2) if took else None,
        "harness_cpu_pct": round(
            100 * (harness_after.cpu_seconds - harness_before.cpu_seconds) / size.window, 1
        ),
        "bot_peak_rss_mb": round(bot_after.peak_rss_mb, 1),
        "timeouts": driver.timeouts,
        "errors": dict(driver.errors),
    }


SHIPPED = "ours, as shipped (client-side pacing on)"
UNPACED = "ours, pacing off"
ECHO = "bare PTB echo bot"


def schedule(rounds: int) -> list[Phase]:
    """Ours as shipped, then the compared pair ``rounds`` times, in alternating order.

    The shared machine's speed drifts by a quarter within minutes: one long phase of each
    bot, one after the other, measured that drift as much as the code (two full runs of the
    same code gave 0.85 and 0.61). Short rounds, alternating which bot goes first, put
    both under the same conditions; the verdict takes the median of the rounds' ratios.
    """
    ours = Phase(UNPACED, "bench.botrunner", env={"BENCH_UNPACED": "1"})
    echo = Phase(ECHO, "bench.echobot", echo=True)
    measured = [Phase(SHIPPED, "bot")]
    for index in range(rounds):
        pair = (ours, echo) if index % 2 == 0 else (echo, ours)
        measured += [replace(phase, name=_in_round(phase.name, index)) for phase in pair]
    return measured


def _in_round(name: str, index: int) -> str:
    return f"{name}, round {index + 1}"


async def run(size: Size, keep: bool, profile: bool) -> dict[str, Any]:
    """Seed, then measure each phase in turn against the same fakes; the figures."""
    rng = random.Random(42)
    with workdir(keep) as tmp:
        async with fakes(flood=None) as (sandbox, telegram):
            seeds, loads = [], []
            for index in range(size.users):
                key = sandbox.create_account(balance_cents=1_000_000)
                for order in create_orders(sandbox, key, 3, rng):
                    sandbox.deliver_sms(order["id"])
                    sandbox.expire(order["id"])  # COMPLETED: history only, nothing to poll
                orders = sandbox.orders(key)
                user_id = 400_000 + index
                seeds.append(SeedUser(user_id, key, orders))
                user = telegram.user(user_id, first_name=f"User{index}", language_code="en")
                loads.append(LoadUser(user, [o["id"] for o in orders], random.Random(index)))
            await seed_bulk(tmp / "data", seeds)
            results: dict[str, Any] = {
                "users": size.users,
                "window_s": size.window,
                "rounds": size.rounds,
            }
            for phase in schedule(size.rounds):
                figures = await measure(phase, telegram, sandbox, tmp / "data", loads, size)
                results[phase.name] = figures
                _print_phase(phase.name, figures)
            if profile:
                results["profile"] = await _profile(telegram, sandbox, tmp, loads, size)
            results["sandbox_429"] = sandbox.stats()["rateLimited"]
    return results


async def _profile(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp: Path, loads: list[LoadUser], size: Size
) -> list[str]:
    """One more run of the unpaced bot, sampled; the summary lines (also printed)."""
    env = {"BENCH_UNPACED": "1"}
    if shutil.which("py-spy"):
        path = tmp / "profile.collapsed"
        phase = Phase("ours, pacing off, under py-spy", "bench.botrunner", env=env)
        figures = await measure(phase, telegram, sandbox, tmp / "data", loads, size, path)
        lines = summarize_collapsed(path, size.window)
    else:
        path = tmp / "profile.pstats"
        env["BENCH_CPROFILE"] = str(path)
        phase = Phase("ours, pacing off, under cProfile", "bench.botrunner", env=env)
        figures = await measure(phase, telegram, sandbox, tmp / "data", loads, size)
        lines = summarize_cprofile(path)
    _print_phase(phase.name, figures)
    print("\n".join(f"   {line}" for line in lines))
    return lines


def _print_phase(name: str, f: dict[str, Any]) -> None:
    print(
        f"   {name}: {f['updates_per_s']} updates/s ({f['updates']} in the window), "
        f"p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms; bot CPU {f['bot_cpu_pct']}% "
        f"({f['bot_cpu_ms_per_update']} ms/update), harness CPU {f['harness_cpu_pct']}%; "
        f"timeouts {f['timeouts']}, errors {f['errors'] or 0}"
    )


def report(r: dict[str, Any]) -> tuple[bool, str]:
    """The ratios (each round's, and their median); whether the target is met, the verdict."""
    shipped = r[SHIPPED]
    rounds = [(r[_in_round(UNPACED, i)], r[_in_round(ECHO, i)]) for i in range(r["rounds"])]
    ratios = [_ratio(ours["updates_per_s"], echo["updates_per_s"]) for ours, echo in rounds]
    cpu_ratios = [
        _ratio(echo["bot_cpu_ms_per_update"], ours["bot_cpu_ms_per_update"])
        for ours, echo in rounds
    ]
    ours_rate = statistics.median(ours["updates_per_s"] for ours, _ in rounds)
    echo_rate = statistics.median(echo["updates_per_s"] for _, echo in rounds)
    ratio, cpu_ratio = statistics.median(ratios), statistics.median(cpu_ratios)
    shipped_ratio = _ratio(shipped["updates_per_s"], echo_rate)
    r["ratios"], r["cpu_ratios"] = [round(x, 2) for x in ratios], [round(x, 2) for x in cpu_ratios]
    r["ratio"], r["ratio_shipped"], r["cpu_ratio"] = (
        round(ratio, 2),
        round(shipped_ratio, 2),
        round(cpu_ratio, 2),
    )
    print(
        f"   ratio ours/echo by round: {', '.join(f'{x:.2f}' for x in ratios)} (median "
        f"{ratio:.2f}) with pacing off, {shipped_ratio:.2f} as shipped; CPU per update "
        f"echo/ours by round: {', '.join(f'{x:.2f}' for x in cpu_ratios)} (median "
        f"{cpu_ratio:.2f}); fake flood control OFF; sandbox 429s {r['sandbox_429']}"
    )
    # The shipped phase is overloaded on purpose (more than 27 messages/s wanted): its
    # timeouts are reported, not judged.
    timeouts = sum(ours["timeouts"] + echo["timeouts"] for ours, echo in rounds)
    met = ratio >= RATIO_TARGET and not timeouts
    verdict = (
        f"ours {ours_rate}/s vs echo {echo_rate}/s (medians of {len(rounds)} rounds), median "
        f"ratio {ratio:.2f} (≥ {RATIO_TARGET}) with client pacing off; as shipped "
        f"{shipped['updates_per_s']}/s = {shipped_ratio:.2f} (Telegram's 30 msg/s pacing)"
    )
    return met, verdict


def _ratio(numerator: float | None, denominator: float | None) -> float:
    return numerator / denominator if numerator and denominator else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(
        "throughput",
        "throughput: updates/s, our bot vs a bare PTB echo bot",
        __doc__,
        argv,
        lambda args: run(QUICK if args.quick else FULL, args.keep, args.profile),
        report,
        limit=900,
        profile_help="also profile our bot (py-spy or cProfile)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
