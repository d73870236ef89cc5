"""The Mini App's limits as units, with clocks the test moves: per-user request budgets and
their paced refusal, bounded waits for an API slot, the inputs' shapes, and their settings."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.api.errors import BusyError
from bot.api.limiter import Bucket, KeyRateLimiter, Priority, RateLimits, waiting_at_most
from bot.config import ConfigError, Settings
from bot.webapp.auth import InitDataValidator, WebAppUser
from bot.webapp.gate import Gate
from bot.webapp.inputs import country_id, is_cursor, is_id
from bot.webapp.limits import UserRateLimiter
from tests.webapp.conftest import ALICE
from tests.webapp.initdata import TOKEN, init_data


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_user_gets_the_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = UserRateLimiter(rate=2.0, burst=5, clock=clock)
    assert [limiter.take(1) for _ in range(5)] == [0] * 5
    assert limiter.take(1) == 1  # empty: a token is back in half a second, said as 1 s
    clock.now += 0.5
    assert limiter.take(1) == 0
    assert limiter.take(1) == 1
    clock.now += 60
    assert [limiter.take(1) for _ in range(6)] == [0] * 5 + [1]  # refilled to the burst only


def test_the_wait_is_when_a_token_is_back() -> None:
    clock = Clock()
    limiter = UserRateLimiter(rate=0.1, burst=1, clock=clock)
    assert limiter.take(7) == 0
    assert limiter.take(7) == 10
    clock.now += 4
    assert limiter.take(7) == 6  # refused requests cost nothing: the wait only shrinks


def test_users_are_limited_apart() -> None:
    limiter = UserRateLimiter(rate=1.0, burst=2, clock=Clock())
    assert [limiter.take(1) for _ in range(3)] == [0, 0, 1]
    assert [limiter.take(2) for _ in range(2)] == [0, 0]


def test_the_users_kept_are_bounded_least_recent_dropped() -> None:
    clock = Clock()
    limiter = UserRateLimiter(rate=1.0, burst=1, max_users=100, clock=clock)
    for user in range(10_000):
        limiter.take(user)
    assert len(limiter) == 100
    assert limiter.take(9_999) == 1  # the most recent is still counted
    assert limiter.take(0) == 0  # the oldest was dropped: a fresh (full) bucket


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        UserRateLimiter(rate=0, burst=1)


async def test_a_bounded_interactive_wait_is_told_busy_at_once() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(RateLimits(reads=2, read_reserve=0, window=60.0), clock=clock)
    for _ in range(2):
        async with limiter.slot("key", Bucket.READ):
            pass
    clock.now += 15
    with waiting_at_most(10.0), pytest.raises(BusyError) as busy:
        async with limiter.slot("key", Bucket.READ):
            pass
    assert busy.value.retry_after == 45  # the first slot's cool-down ends in 45 s
    assert limiter.used("key", Bucket.READ) == 2  # nothing taken, nothing left waiting


async def test_a_slot_due_within_the_bound_is_waited_for() -> None:
    limiter = KeyRateLimiter(RateLimits(reads=1, read_reserve=0, window=0.05))
    async with limiter.slot("key", Bucket.READ):
        pass
    with waiting_at_most(10.0):
        async with asyncio.timeout(5), limiter.slot("key", Bucket.READ):
            pass
    assert limiter.used("key", Bucket.READ) == 1


async def test_the_bound_is_for_interactive_callers_inside_it_only() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(RateLimits(reads=1, read_reserve=0, window=60.0), clock=clock)
    async with limiter.slot("key", Bucket.READ):
        pass
    with waiting_at_most(10.0):
        background = asyncio.create_task(_take(limiter, Priority.BACKGROUND))
        await _let_run()
        assert not background.done()  # background polling still queues, as before
        background.cancel()
    outside = asyncio.create_task(_take(limiter, Priority.INTERACTIVE))
    await _let_run()
    assert not outside.done()  # the chat's taps, outside the bound, queue as before
    outside.cancel()
    await asyncio.gather(background, outside, return_exceptions=True)
    assert limiter.used("key", Bucket.READ) == 1


async def _let_run() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _take(limiter: KeyRateLimiter, priority: Priority) -> None:
    async with limiter.slot("key", Bucket.READ, priority):
        pass


@pytest.mark.parametrize(
    ("value", "ok"),
    [("wa", True), ("ckepmf3alxkvboduvls2292rb", True), ("a_b-C9", True), ("", False),
     ("x" * 41, False), ("w a", False), ("wа", False), ("../x", False), (7, False), (None, False)],
)  # fmt: skip
def test_ids_have_the_chats_shape(value: object, ok: bool) -> None:
    assert is_id(value) is ok


def test_country_ids_and_cursors() -> None:
    assert [country_id(v) for v in (7, "7", 0, "0")] == [7, 7, 0, 0]
    assert [country_id(v) for v in (True, -1, "07", "1e3", 10**10, "7 ", 7.0)] == [None] * 7
    assert is_cursor("ck_9-Ab.=/+~")
    assert not is_cursor("x" * 257)
    assert not is_cursor("a b")


def test_the_limit_settings_are_read_and_checked() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "1:x"}
    settings = Settings.from_env(base)
    assert (settings.webapp_rate, settings.webapp_burst, settings.webapp_streams) == (120, 30, 3)
    settings = Settings.from_env(
        {**base, "WEBAPP_RATE": "600", "WEBAPP_BURST": "50", "WEBAPP_STREAMS": "5"}
    )
    assert (settings.webapp_rate, settings.webapp_burst, settings.webapp_streams) == (600, 50, 5)
    for name, bad in (("WEBAPP_RATE", "0"), ("WEBAPP_BURST", "x"), ("WEBAPP_STREAMS", "101")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({**base, name: bad})


async def test_a_refusal_is_sent_after_a_pause_and_costs_no_lookup() -> None:
    """A client hammering gets one 429 per connection per pause, never a flood of them."""
    clock, paused = Clock(), []

    async def sleep(seconds: float) -> None:
        paused.append(seconds)

    validator = InitDataValidator(TOKEN, clock=lambda: 1_800_000_000.0)
    gate = Gate(validator, UserRateLimiter(0.5, 1, clock=clock), refusal_delay=1.0, sleep=sleep)
    auth = {"Authorization": "tma " + init_data(ALICE, 1_800_000_000, language_code="de")}
    admitted = await gate.admit(make_mocked_request("GET", "/app/api/session", headers=auth))
    assert isinstance(admitted, WebAppUser)
    assert paused == []
    refused = await gate.admit(make_mocked_request("GET", "/app/api/session", headers=auth))
    assert isinstance(refused, web.Response)
    assert (refused.status, refused.headers["Retry-After"]) == (429, "2")
    assert paused == [1.0]  # the pause, at most the Retry-After
    assert refused.text is not None
    assert "Bitte warte 2 Sekunden" in refused.text  # initData's language: no database read
