"""/healthz verdicts: lasting problems, heartbeats that must keep coming, probes."""

from __future__ import annotations

import asyncio

from bot.health import Health


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_healthy_when_nothing_is_wrong() -> None:
    report = await Health(Clock()).check()
    assert report.healthy
    assert report.problems == {}


async def test_a_problem_lasts_until_cleared() -> None:
    health = Health(Clock())
    health.problem("telegram", "not connected yet")
    assert (await health.check()).problems == {"telegram": "not connected yet"}
    health.problem("telegram", None)
    assert (await health.check()).healthy


async def test_a_loop_that_stops_beating_is_reported_dead() -> None:
    clock = Clock()
    health = Health(clock)
    health.beat("poller", 10.0)
    clock.now += 9.9
    assert (await health.check()).healthy
    clock.now += 0.2
    report = await health.check()
    assert not report.healthy
    assert "no sign of life" in report.problems["poller"]
    health.forget("poller")
    assert (await health.check()).healthy


async def test_probes_run_on_every_check() -> None:
    health = Health(Clock())
    answers = ["database unavailable: disk full", None]

    async def probe() -> str | None:
        return answers.pop(0)

    health.probe("database", probe)
    assert (await health.check()).problems == {"database": "database unavailable: disk full"}
    assert (await health.check()).healthy


async def test_a_probe_that_hangs_is_reported_without_hanging_the_check() -> None:
    health = Health(Clock(), probe_timeout=0.05)

    async def hangs() -> str | None:
        await asyncio.Event().wait()
        return None

    health.probe("database", hangs)
    report = await health.check()
    assert report.problems == {"database": "no answer within 0.05 s"}
