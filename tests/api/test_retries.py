"""Retries of reads, no retries of writes, and answers that cannot be read."""

from __future__ import annotations

import pytest

from bot.api import ApiKey, JiemaClient, RateLimits, RetryPolicy
from bot.api.errors import (
    ApiTimeoutError,
    MalformedResponseError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from bot.sandbox import ManualClock, SandboxServer
from tests.api.helpers import (
    FAST_RETRY,
    SHORT_TIMEOUT,
    ErrorChecker,
    MakeClient,
    MakeKey,
    MakeServer,
    SleepSpy,
    requests_to,
)

GENEROUS = RateLimits(reads=1000, writes=1000, read_reserve=0)


def assert_backoffs(delays: list[float], policy: RetryPolicy) -> None:
    """Each delay is a full-jitter backoff: within [0, min(max, base * 2**(retry-1))]."""
    for retry, delay in enumerate(delays, start=1):
        assert 0 <= delay <= min(policy.max_delay, policy.base_delay * 2 ** (retry - 1))


# -- reads are retried ------------------------------------------------------------------------


async def test_a_read_is_retried_through_two_server_errors(
    server: SandboxServer, client: JiemaClient, key: ApiKey, sleeps: SleepSpy
) -> None:
    server.inject_fault("error500", 2, path="/v1/account")
    account = await client.account(key)
    assert account.balance_cents == 10_000
    assert [r.status for r in requests_to(server, "GET", "/v1/account")] == [500, 500, 200]
    assert len(sleeps.delays) == 2
    assert_backoffs(sleeps.delays, FAST_RETRY)


@pytest.mark.parametrize("attempts", [1, 3, 4])
async def test_a_read_gives_up_after_exactly_the_policys_attempts(
    server: SandboxServer,
    make_client: MakeClient,
    key: ApiKey,
    sleeps: SleepSpy,
    raises: ErrorChecker,
    attempts: int,
) -> None:
    policy = RetryPolicy(attempts=attempts, base_delay=0.001)
    client = make_client(server, retry=policy)
    server.inject_fault("error500", attempts + 2, path="/v1/services")
    with raises(ServerError, code="INTERNAL", status=500):
        await client.services(key)
    assert len(requests_to(server, "GET", "/v1/services")) == attempts
    assert len(sleeps.delays) == attempts - 1
    assert_backoffs(sleeps.delays, policy)


async def test_a_read_that_times_out_is_retried(
    server: SandboxServer, make_client: MakeClient, key: ApiKey, sleeps: SleepSpy
) -> None:
    client = make_client(server, timeout=SHORT_TIMEOUT)
    order = await client.create_order(key, "tg", 7)
    server.inject_fault("timeout", 1, path=f"/v1/orders/{order.id}")
    polled = await client.order(key, order.id)
    assert polled.id == order.id
    assert len(requests_to(server, "GET", f"/v1/orders/{order.id}")) == 2
    assert len(sleeps.delays) == 1


async def test_reads_that_keep_timing_out_end_in_an_api_timeout_error(
    server: SandboxServer, make_client: MakeClient, key: ApiKey, raises: ErrorChecker
) -> None:
    client = make_client(server, timeout=SHORT_TIMEOUT)
    server.inject_fault("timeout", 3, path="/v1/countries")
    with raises(ApiTimeoutError):
        await client.countries(key)
    assert len(requests_to(server, "GET", "/v1/countries")) == FAST_RETRY.attempts


async def test_a_429_read_is_retried_after_the_servers_retry_after(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey
) -> None:
    clock = ManualClock()
    server = await make_server(clock=clock, rate_window=5, read_limit=1)
    key = make_key(server)
    # The spy "sleeps" by moving the sandbox's clock: nothing really waits.
    sleeps = SleepSpy(clock)
    client = make_client(server, limits=GENEROUS, sleep=sleeps)
    await client.account(key)
    account = await client.account(key)  # 429, Retry-After: 5, then served.
    assert account.balance_cents == 10_000
    assert sleeps.delays == [5.0]
    assert [r.status for r in requests_to(server, "GET", "/v1/account")] == [200, 429, 200]


async def test_a_429_whose_retry_after_exceeds_max_delay_is_raised_at_once(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey, raises: ErrorChecker
) -> None:
    clock = ManualClock()
    server = await make_server(clock=clock, rate_window=30, read_limit=1)
    key = make_key(server)
    sleeps = SleepSpy(clock)
    client = make_client(server, limits=GENEROUS, sleep=sleeps)
    await client.account(key)
    with raises(RateLimitedError, code="RATE_LIMITED", status=429) as limited:
        await client.account(key)
    assert isinstance(limited.value, RateLimitedError)
    assert limited.value.retry_after == 30.0
    assert sleeps.delays == []
    assert len(requests_to(server, "GET", "/v1/account")) == 2


async def test_429s_that_persist_end_in_rate_limited_after_the_attempts(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey, raises: ErrorChecker
) -> None:
    server = await make_server(clock=ManualClock(), rate_window=4, read_limit=1)
    key = make_key(server)
    sleeps = SleepSpy()  # Records Retry-After, and lets no time pass on the sandbox.
    client = make_client(server, limits=GENEROUS, sleep=sleeps)
    await client.account(key)
    with raises(RateLimitedError, code="RATE_LIMITED", status=429) as limited:
        await client.account(key)
    assert isinstance(limited.value, RateLimitedError)
    assert limited.value.retry_after == 4.0
    assert sleeps.delays == [4.0, 4.0]
    assert len(requests_to(server, "GET", "/v1/account")) == 1 + FAST_RETRY.attempts


# -- writes are never retried -----------------------------------------------------------------


async def test_a_create_hit_by_a_server_error_is_not_retried(
    server: SandboxServer, client: JiemaClient, key: ApiKey, sleeps: SleepSpy, raises: ErrorChecker
) -> None:
    server.inject_fault("error500", 1, path="/v1/orders")
    with raises(ServerError, code="INTERNAL", status=500):
        await client.create_order(key, "tg", 7)
    assert len(requests_to(server, "POST", "/v1/orders")) == 1
    assert sleeps.delays == []
    assert (await client.orders(key)).items == ()  # The sandbox refused it unprocessed.
    assert (await client.account(key)).balance_cents == 10_000


async def test_a_create_that_times_out_is_not_retried_and_the_order_exists(
    server: SandboxServer,
    make_client: MakeClient,
    key: ApiKey,
    sleeps: SleepSpy,
    raises: ErrorChecker,
) -> None:
    client = make_client(server, timeout=SHORT_TIMEOUT)
    server.inject_fault("timeout", 1, path="/v1/orders")
    with raises(ApiTimeoutError) as lost:
        await client.create_order(key, "tg", 7)
    assert isinstance(lost.value, TransportError)
    assert len(requests_to(server, "POST", "/v1/orders")) == 1
    assert sleeps.delays == []
    # The answer was lost, not the order: reconciling finds it, charged.
    orders = (await client.orders(key)).items
    assert len(orders) == 1
    assert orders[0].status == "WAITING"
    assert orders[0].charged_cents
    assert (await client.account(key)).balance_cents == 10_000 - orders[0].charged_cents


async def test_a_create_whose_connection_drops_is_not_retried_and_was_charged(
    server: SandboxServer, client: JiemaClient, key: ApiKey, sleeps: SleepSpy, raises: ErrorChecker
) -> None:
    server.inject_fault("drop_create")
    with raises(TransportError) as dropped:
        await client.create_order(key, "tg", 7)
    assert not isinstance(dropped.value, ApiTimeoutError)
    assert len(requests_to(server, "POST", "/v1/orders")) == 1
    assert sleeps.delays == []
    orders = (await client.orders(key)).items
    assert len(orders) == 1
    assert orders[0].charged_cents
    assert (await client.account(key)).balance_cents == 10_000 - orders[0].charged_cents


async def test_cancel_and_next_sms_are_not_retried(
    server: SandboxServer, client: JiemaClient, key: ApiKey, sleeps: SleepSpy, raises: ErrorChecker
) -> None:
    order = await client.create_order(key, "tg", 7)
    server.inject_fault("error500", 1, path="/cancel")
    with raises(ServerError, code="INTERNAL", status=500):
        await client.cancel_order(key, order.id)
    server.deliver_sms(order.id, "Your code is 12345")
    server.inject_fault("error500", 1, path="/next-sms")
    with raises(ServerError, code="INTERNAL", status=500):
        await client.next_sms(key, order.id)
    assert len(requests_to(server, "POST", f"/v1/orders/{order.id}/cancel")) == 1
    assert len(requests_to(server, "POST", f"/v1/orders/{order.id}/next-sms")) == 1
    assert sleeps.delays == []
    assert (await client.order(key, order.id)).status == "RECEIVED"


# -- answers that are not the JSON of the spec --------------------------------------------------


async def test_a_malformed_answer_is_a_malformed_response_error_and_not_retried(
    server: SandboxServer, client: JiemaClient, key: ApiKey, sleeps: SleepSpy, raises: ErrorChecker
) -> None:
    server.inject_fault("malformed", 1, path="/v1/account")
    with raises(MalformedResponseError):
        await client.account(key)
    assert len(requests_to(server, "GET", "/v1/account")) == 1
    assert sleeps.delays == []
    assert (await client.account(key)).balance_cents == 10_000


async def test_a_malformed_answer_to_a_create_hides_a_real_order(
    server: SandboxServer, client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    server.inject_fault("malformed", 1, path="/v1/orders")
    with raises(MalformedResponseError):
        await client.create_order(key, "tg", 7)
    assert len((await client.orders(key)).items) == 1


@pytest.mark.parametrize(
    "call",
    ["services", "countries", "prices", "orders"],
)
async def test_every_catalogue_read_turns_a_cut_answer_into_malformed(
    server: SandboxServer, client: JiemaClient, key: ApiKey, raises: ErrorChecker, call: str
) -> None:
    server.inject_fault("malformed", 1)
    with raises(MalformedResponseError):
        if call == "prices":
            await client.prices(key, "tg")
        else:
            await getattr(client, call)(key)
