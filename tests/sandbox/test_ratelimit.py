"""Per-key sliding-window rate limits, with ``Retry-After``."""

import httpx

from bot.sandbox import ManualClock, SandboxServer, key_fingerprint
from bot.sandbox.ratelimit import Bucket, SlidingWindowLimiter
from bot.sandbox.stats import RequestLog, RequestRecord
from tests.sandbox.helpers import MakeServer, client_for, create_order, data, error_code


def test_window_slides_and_refusals_do_not_count() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(10, {Bucket.READ: 2, Bucket.WRITE: 1}, clock)
    assert limiter.acquire("k", Bucket.READ) is None
    clock.advance(4)
    assert limiter.acquire("k", Bucket.READ) is None
    assert limiter.acquire("k", Bucket.READ) == 6
    clock.advance(5.5)
    assert limiter.acquire("k", Bucket.READ) == 1  # 0.5 s left, rounded up.
    clock.advance(0.5)  # The first request leaves; the refusals never counted.
    assert limiter.acquire("k", Bucket.READ) is None
    assert limiter.acquire("k", Bucket.WRITE) is None  # Separate buckets,
    assert limiter.acquire("other", Bucket.READ) is None  # and separate keys.


def test_a_lowered_limit_waits_for_enough_requests_to_leave() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(10, {Bucket.READ: 3, Bucket.WRITE: 1}, clock)
    for _ in range(3):
        assert limiter.acquire("k", Bucket.READ) is None
        clock.advance(1)
    limiter.limits[Bucket.READ] = 1
    assert limiter.acquire("k", Bucket.READ) == 9  # Until the last of the three leaves.


async def test_writes_over_the_limit_get_429_with_retry_after(
    make_server: MakeServer, clock: ManualClock
) -> None:
    server = await make_server(rate_window=2, write_limit=3, read_limit=5)
    key = server.create_account(balance_cents=10_000)
    async with client_for(server, key) as api:
        orders = [await create_order(api) for _ in range(3)]
        for _ in range(3):  # Retrying early never extends the wait.
            refused = await api.post(f"/v1/orders/{orders[0]['id']}/cancel")
            assert error_code(refused, 429) == "RATE_LIMITED"
            assert refused.headers["Retry-After"] == "2"
        assert data(await api.get("/v1/account"))  # Reads have their own bucket.
        clock.advance(2)
        data(await api.post(f"/v1/orders/{orders[0]['id']}/cancel"))
    stats = server.stats()
    assert stats["rateLimited"] == 3
    assert stats["rateLimitedByKey"] == {key_fingerprint(key): 3}
    assert stats["requests"][key_fingerprint(key)] == {"read": 1, "write": 7}


async def test_reads_including_order_polls_share_the_read_limit(
    make_server: MakeServer, clock: ManualClock
) -> None:
    server = await make_server(rate_window=2, read_limit=4)
    key, other = server.create_account(), server.create_account()
    async with client_for(server, key) as api, client_for(server, other) as other_api:
        order = await create_order(api)
        for path in ("/v1/account", "/v1/services", "/v1/orders", f"/v1/orders/{order['id']}"):
            data(await api.get(path))
        clock.advance(1)
        refused = await api.get("/v1/countries")
        assert error_code(refused, 429) == "RATE_LIMITED"
        assert refused.headers["Retry-After"] == "1"
        data(await other_api.get("/v1/countries"))  # Limits are per key.
        clock.advance(1)
        data(await api.get("/v1/countries"))
    log = server.request_log.for_key(key)
    assert [(r.bucket, r.status) for r in log][-2:] == [(Bucket.READ, 429), (Bucket.READ, 200)]


async def test_the_rate_window_can_be_changed_at_run_time(
    server: SandboxServer, api: httpx.AsyncClient, clock: ManualClock
) -> None:
    server.set_rate_window(5, read_limit=1)
    data(await api.get("/v1/account"))
    assert (await api.get("/v1/account")).headers["Retry-After"] == "5"
    clock.advance(5)
    data(await api.get("/v1/account"))


def test_request_log_peak_counts_any_window() -> None:
    log = RequestLog()
    fp = key_fingerprint("k")
    for at, bucket in [
        (0, Bucket.READ),
        (30, Bucket.READ),
        (59, Bucket.READ),
        (60, Bucket.READ),
        (61, Bucket.WRITE),
        (119.5, Bucket.READ),
        (200, Bucket.READ),
    ]:
        log.append(RequestRecord(at, fp, "GET", "/api/v1/account", bucket, 200))
    log.append(RequestRecord(60, key_fingerprint("other"), "GET", "/", Bucket.READ, 200))
    assert log.peak("k", Bucket.READ) == 3  # 30, 59, 60 (0 has left by 60).
    assert log.peak("k", Bucket.READ, window=120) == 5
    assert log.peak("k", Bucket.WRITE) == 1
    assert log.peak("nobody", Bucket.READ) == 0
