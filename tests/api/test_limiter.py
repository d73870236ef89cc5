"""The client's per-key limiter keeps the sandbox from ever answering 429.

The sandbox runs in real time here (the loop's monotonic clock) with a short window, and
the client is given the same window and limits: every request beyond the limit must wait
in the client until the window lets it through, never be sent early and refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from bot.api import ApiKey, JiemaClient, Priority, RateLimits
from bot.api.limiter import Bucket, KeyRateLimiter
from bot.sandbox import SandboxServer, key_fingerprint
from bot.sandbox.ratelimit import Bucket as ServerBucket
from tests.api.helpers import MakeClient, MakeKey, MakeServer, requests_to, wait_until

WINDOW = 1.0

# The sandbox reads the same monotonic clock as the client's limiter (asyncio's loop
# time), so a step of the wall clock cannot shift one window against the other.
SAME_CLOCK = time.monotonic


def grants_to_background(client: JiemaClient, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spies on the limiter: for every slot granted to a background caller, the slots in
    use just after the grant (that one included)."""
    seen: list[int] = []
    original: Callable[..., AbstractAsyncContextManager[None]] = client.limiter.slot

    @asynccontextmanager
    async def slot(
        key_id: str, bucket: Bucket, priority: Priority = Priority.INTERACTIVE
    ) -> AsyncIterator[None]:
        async with original(key_id, bucket, priority):
            if priority is Priority.BACKGROUND:
                seen.append(client.limiter.used(key_id, bucket))
            yield

    monkeypatch.setattr(client.limiter, "slot", slot)
    return seen


async def test_a_burst_of_100_reads_all_succeed_without_a_single_429(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey
) -> None:
    server = await make_server(clock=SAME_CLOCK, rate_window=WINDOW, read_limit=60, write_limit=10)
    key = make_key(server)
    client = make_client(server, limits=RateLimits(window=WINDOW, reads=60, writes=10))
    order = await client.create_order(key, "tg", 7)
    # Order polls count as reads too: mix them with account reads.
    calls = [client.account(key) if i % 2 else client.order(key, order.id) for i in range(100)]
    results = await asyncio.gather(*calls)
    assert len(results) == 100
    stats = server.stats()
    assert stats["rateLimited"] == 0
    assert stats["requests"][key_fingerprint(key.secret)] == {"read": 100, "write": 1}
    assert all(record.status == 200 for record in server.request_log)
    assert server.request_log.peak(key.secret, ServerBucket.READ, WINDOW) <= 60


async def test_a_burst_of_25_creates_all_succeed_without_a_single_429(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey
) -> None:
    server = await make_server(clock=SAME_CLOCK, rate_window=WINDOW, read_limit=60, write_limit=10)
    key = make_key(server, balance_cents=100_000)
    client = make_client(server, limits=RateLimits(window=WINDOW, reads=60, writes=10))
    orders = await asyncio.gather(*(client.create_order(key, "tg", 7) for _ in range(25)))
    assert len({order.id for order in orders}) == 25
    stats = server.stats()
    assert stats["rateLimited"] == 0
    assert stats["requests"][key_fingerprint(key.secret)] == {"read": 0, "write": 25}
    assert server.request_log.peak(key.secret, ServerBucket.WRITE, WINDOW) <= 10
    charged = sum(order.charged_cents or 0 for order in orders)
    assert (await client.account(key)).balance_cents == 100_000 - charged


async def test_keys_have_separate_budgets(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey
) -> None:
    server = await make_server(clock=SAME_CLOCK, rate_window=60, read_limit=5)
    keys = [make_key(server) for _ in range(4)]
    client = make_client(server, limits=RateLimits(window=60, reads=5, read_reserve=0))
    # Four keys, five reads each: at the limit of every key, none waits on another.
    await asyncio.gather(*(client.account(key) for key in keys for _ in range(5)))
    assert server.stats()["rateLimited"] == 0
    assert {client.limiter.used(key.id, Bucket.READ) for key in keys} == {5}


async def test_background_reads_never_hold_more_than_reads_minus_reserve(
    make_server: MakeServer,
    make_client: MakeClient,
    make_key: MakeKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = 0.5
    server = await make_server(clock=SAME_CLOCK, rate_window=window, read_limit=10)
    key = make_key(server)
    limits = RateLimits(window=window, reads=10, writes=10, read_reserve=4)
    client = make_client(server, limits=limits)
    in_use_at_grant = grants_to_background(client, monkeypatch)
    polls = [client.account(key, priority=Priority.BACKGROUND) for _ in range(14)]
    await asyncio.gather(*polls)
    assert len(in_use_at_grant) == 14
    assert max(in_use_at_grant) == 10 - 4
    assert server.stats()["rateLimited"] == 0
    assert server.request_log.peak(key.secret, ServerBucket.READ, window) <= 6


async def test_the_reserve_stays_free_for_interactive_reads(
    server: SandboxServer, make_client: MakeClient, key: ApiKey
) -> None:
    # A long window: what background polling takes now stays taken for the whole test.
    client = make_client(server, limits=RateLimits(window=60, reads=10, read_reserve=4))
    order = await client.create_order(key, "tg", 7)
    polls = [
        asyncio.create_task(client.order(key, order.id, priority=Priority.BACKGROUND))
        for _ in range(10)
    ]
    try:
        await wait_until(lambda: sum(task.done() for task in polls) == 6)
        for _ in range(5):  # Let the blocked polls notice every freed slot, if any.
            await asyncio.sleep(0)
        assert client.limiter.used(key.id, Bucket.READ) == 6
        assert len(requests_to(server, "GET", f"/v1/orders/{order.id}")) == 6
        # The person tapping gets the four reserved reads at once: a hang here would
        # mean they queue behind the poller (the guard only bounds the failure).
        async with asyncio.timeout(5):
            accounts = await asyncio.gather(*(client.account(key) for _ in range(4)))
        assert len(accounts) == 4
        assert client.limiter.used(key.id, Bucket.READ) == 10
        assert sum(task.done() for task in polls) == 6  # The rest still wait.
        assert len(requests_to(server, "GET", f"/v1/orders/{order.id}")) == 6
    finally:
        for task in polls:
            task.cancel()
        # Cancelling a caller that waits for a slot ends it at once (the interactive
        # reads have just released slots, the moment asyncio.wait_for lost cancels).
        async with asyncio.timeout(5):
            outcomes = await asyncio.gather(*polls, return_exceptions=True)
    assert sum(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes) == 4
    assert len(requests_to(server, "GET", f"/v1/orders/{order.id}")) == 6  # Never sent.
    assert server.stats()["rateLimited"] == 0


async def test_a_caller_waiting_for_a_slot_is_cancelled_even_as_a_slot_is_released() -> None:
    limiter = KeyRateLimiter(RateLimits(window=60, reads=2, read_reserve=0))
    sent: list[str] = []

    async def request() -> None:
        async with limiter.slot("key", Bucket.READ):
            sent.append("request")

    await request()  # One slot cools down for the whole window,
    holding = limiter.slot("key", Bucket.READ)
    await holding.__aenter__()  # the other is in flight.
    waiter = asyncio.create_task(request())
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiter.done()  # Blocked until the first slot's window ends.
    await holding.__aexit__(None, None, None)  # Wakes the waiter (both slots still cool)...
    waiter.cancel()  # ...and the cancel lands before it runs again.
    done, _ = await asyncio.wait([waiter], timeout=5)
    assert waiter in done
    assert waiter.cancelled()
    assert sent == ["request"]
    assert limiter.used("key", Bucket.READ) == 2


async def test_background_writes_without_a_reserve_use_the_whole_budget(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey
) -> None:
    server = await make_server(clock=SAME_CLOCK, rate_window=60, write_limit=3)
    key = make_key(server)
    client = make_client(server, limits=RateLimits(window=60, writes=3))
    await asyncio.gather(*(client.create_order(key, "tg", 7) for _ in range(3)))
    assert client.limiter.used(key.id, Bucket.WRITE) == 3
    assert server.stats()["rateLimited"] == 0


async def test_a_burst_of_taps_leaves_the_poller_its_share(
    server: SandboxServer, make_client: MakeClient, key: ApiKey
) -> None:
    # A user buying number after number while the first ones are polled: their taps may not
    # take the reads that bring the codes. A long window: what is taken stays taken.
    limits = RateLimits(window=60, reads=10, read_reserve=4, background_reads=3)
    client = make_client(server, limits=limits)
    order = await client.create_order(key, "tg", 7)
    await client.order(key, order.id, priority=Priority.BACKGROUND)  # the key is polled
    taps = [asyncio.create_task(client.account(key)) for _ in range(10)]
    try:
        await wait_until(lambda: sum(task.done() for task in taps) == 10 - 3)
        for _ in range(5):  # Let the blocked taps notice every freed slot, if any.
            await asyncio.sleep(0)
        assert sum(task.done() for task in taps) == 7  # at least the reserve of 4, not more
        async with asyncio.timeout(5):  # the poller's next two reads go out at once
            for _ in range(2):
                await client.order(key, order.id, priority=Priority.BACKGROUND)
        assert client.limiter.used(key.id, Bucket.READ) == 10
    finally:
        for task in taps:
            task.cancel()
        await asyncio.gather(*taps, return_exceptions=True)
    assert len(requests_to(server, "GET", "/v1/account")) == 7
    assert server.stats()["rateLimited"] == 0


def test_a_key_not_being_polled_gives_its_user_the_whole_budget() -> None:
    limits = RateLimits(reads=60, read_reserve=20, background_reads=30)
    assert limits.admits(Bucket.READ, Priority.INTERACTIVE, used=59, background=0)
    assert not limits.admits(Bucket.READ, Priority.INTERACTIVE, used=60, background=0)
    # Polled: the user's own reads stop at 30, the poller's share stays free for it,
    assert not limits.admits(Bucket.READ, Priority.INTERACTIVE, used=31, background=1)
    assert limits.admits(Bucket.READ, Priority.BACKGROUND, used=59, background=29)
    # and the poller alone never takes the user's 20.
    assert not limits.admits(Bucket.READ, Priority.BACKGROUND, used=40, background=40)
    assert limits.admits(Bucket.READ, Priority.INTERACTIVE, used=40, background=40)
