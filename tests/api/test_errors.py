"""Every documented error code reaches the caller as its exception, with code and status."""

from __future__ import annotations

import httpx
import pytest

from bot.api import ApiKey, JiemaClient, RateLimits
from bot.api.errors import (
    AlreadyChangedError,
    ApiError,
    AuthError,
    BadCountryError,
    BadRequestError,
    BadServiceError,
    CodeReceivedError,
    ForbiddenError,
    InsufficientBalanceError,
    NoNumbersError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    error_for,
)
from bot.sandbox import ManualClock, SandboxServer
from tests.api.helpers import ErrorChecker, MakeClient, MakeKey, MakeServer, requests_to

GENEROUS = RateLimits(reads=1000, writes=1000, read_reserve=0)
"""Client limits far above the sandbox's, so the server's own 429 is reached."""


async def test_an_unknown_key_is_auth_invalid(
    server: SandboxServer, client: JiemaClient, secrets: set[str], raises: ErrorChecker
) -> None:
    unknown = ApiKey("jm_" + "x" * 43)
    secrets.add(unknown.secret)
    with raises(AuthError, code="AUTH_INVALID", status=401):
        await client.account(unknown)


async def test_a_revoked_key_is_auth_invalid(
    server: SandboxServer, client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    await client.account(key)
    server.revoke_key(key.secret)
    with raises(AuthError, code="AUTH_INVALID", status=401):
        await client.account(key)
    with raises(AuthError, code="AUTH_INVALID", status=401):
        await client.create_order(key, "tg", 7)


async def test_a_banned_account_is_forbidden(
    server: SandboxServer, client: JiemaClient, make_key: MakeKey, raises: ErrorChecker
) -> None:
    banned = make_key(server, banned=True)
    with raises(ForbiddenError, code="FORBIDDEN", status=403):
        await client.account(banned)


async def test_another_accounts_order_is_not_found(
    server: SandboxServer,
    client: JiemaClient,
    key: ApiKey,
    make_key: MakeKey,
    raises: ErrorChecker,
) -> None:
    order = await client.create_order(key, "tg", 7)
    other = make_key(server)
    with raises(NotFoundError, code="NOT_FOUND", status=404):
        await client.order(other, order.id)
    with raises(NotFoundError, code="NOT_FOUND", status=404):
        await client.cancel_order(other, order.id)
    with raises(NotFoundError, code="NOT_FOUND", status=404):
        await client.next_sms(other, order.id)
    assert (await client.order(key, order.id)).status == "WAITING"  # Untouched.


@pytest.mark.parametrize("order_id", ["ckdoesnotexist0000000000000", "../account", "a/b?c#d"])
async def test_an_unknown_order_id_is_not_found(
    client: JiemaClient, key: ApiKey, raises: ErrorChecker, order_id: str
) -> None:
    with raises(NotFoundError, code="NOT_FOUND", status=404):
        await client.order(key, order_id)


async def test_a_balance_below_the_price_is_insufficient_and_charges_nothing(
    server: SandboxServer, client: JiemaClient, make_key: MakeKey, raises: ErrorChecker
) -> None:
    poor = make_key(server, balance_cents=1)
    with raises(InsufficientBalanceError, code="INSUFFICIENT", status=400):
        await client.create_order(poor, "tg", 7)
    assert (await client.account(poor)).balance_cents == 1
    assert (await client.orders(poor)).items == ()


async def test_an_empty_stock_is_no_numbers(
    server: SandboxServer, client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    server.set_stock("tg", 7, 0)
    with raises(NoNumbersError, code="NO_NUMBERS", status=400):
        await client.create_order(key, "tg", 7)


async def test_an_unknown_service_is_bad_service(
    client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    with raises(BadServiceError, code="BAD_SERVICE", status=400):
        await client.create_order(key, "no-such-service", 7)
    with raises(BadServiceError, code="BAD_SERVICE", status=400):
        await client.prices(key, "no-such-service")


async def test_an_unknown_country_is_bad_country(
    client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    with raises(BadCountryError, code="BAD_COUNTRY", status=400):
        await client.create_order(key, "tg", 99_999)
    with raises(BadCountryError, code="BAD_COUNTRY", status=400):
        await client.create_order(key, "tg", "zz")


async def test_cancelling_after_an_sms_is_code_received(
    server: SandboxServer, client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    order = await client.create_order(key, "tg", 7)
    server.deliver_sms(order.id, "Your code is 12345")
    with raises(CodeReceivedError, code="CODE_RECEIVED", status=400):
        await client.cancel_order(key, order.id)


async def test_cancelling_a_cancelled_order_is_already_changed(
    client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    order = await client.create_order(key, "tg", 7)
    await client.cancel_order(key, order.id)
    with raises(AlreadyChangedError, code="ALREADY_CHANGED", status=400):
        await client.cancel_order(key, order.id)


async def test_an_unknown_400_code_is_a_bad_request_keeping_its_code(
    server: SandboxServer, client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    order = await client.create_order(key, "tg", 7)
    with raises(BadRequestError, status=400) as refused:
        await client.next_sms(key, order.id)  # Still WAITING: nothing to wait again for.
    error = refused.value
    assert type(error) is BadRequestError
    assert isinstance(error, ApiError)
    assert error.message
    # The code is whatever the server sent, not something the client made up.
    headers = {"Authorization": f"Bearer {key.secret}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as raw:
        body = (await raw.post(f"/v1/orders/{order.id}/next-sms")).json()
    assert error.code == body["code"]
    assert error.message == body["message"]


async def test_an_invalid_query_is_bad_request(
    client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    with raises(BadRequestError, code="BAD_REQUEST", status=400):
        await client.orders(key, limit=0)


async def test_the_servers_429_is_rate_limited_with_retry_after(
    make_server: MakeServer, make_client: MakeClient, make_key: MakeKey, raises: ErrorChecker
) -> None:
    server = await make_server(clock=ManualClock(), rate_window=60, read_limit=2, write_limit=1)
    key = make_key(server)
    client = make_client(server, limits=GENEROUS)
    await client.account(key)
    await client.account(key)
    with raises(RateLimitedError, code="RATE_LIMITED", status=429) as limited:
        await client.account(key)
    assert isinstance(limited.value, RateLimitedError)
    assert limited.value.retry_after == 60.0  # Over max_delay: raised, not slept through.
    await client.create_order(key, "tg", 7)
    with raises(RateLimitedError, code="RATE_LIMITED", status=429) as limited:
        await client.create_order(key, "tg", 7)
    assert isinstance(limited.value, RateLimitedError)
    assert limited.value.retry_after == 60.0
    assert len(requests_to(server, "GET", "/v1/account")) == 3
    assert len(requests_to(server, "POST", "/v1/orders")) == 2
    assert server.stats()["rateLimited"] == 2


async def test_an_internal_error_is_a_server_error(
    server: SandboxServer, client: JiemaClient, key: ApiKey, raises: ErrorChecker
) -> None:
    order = await client.create_order(key, "tg", 7)
    server.inject_fault("error500", 1, path="/cancel")
    with raises(ServerError, code="INTERNAL", status=500):
        await client.cancel_order(key, order.id)
    server.inject_fault("error500", 10, path="/v1/account")
    with raises(ServerError, code="INTERNAL", status=500):
        await client.account(key)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "AUTH_MISSING", AuthError),
        (401, "AUTH_INVALID", AuthError),
        (403, "FORBIDDEN", ForbiddenError),
        (404, "NOT_FOUND", NotFoundError),
        (429, "RATE_LIMITED", RateLimitedError),
        (500, "INTERNAL", ServerError),
        (400, "INSUFFICIENT", InsufficientBalanceError),
        (400, "NO_NUMBERS", NoNumbersError),
        (400, "BAD_SERVICE", BadServiceError),
        (400, "BAD_COUNTRY", BadCountryError),
        (400, "CODE_RECEIVED", CodeReceivedError),
        (400, "ALREADY_CHANGED", AlreadyChangedError),
        (400, "SOMETHING_NEW", BadRequestError),
        (418, "HTTP_418", BadRequestError),
        (403, "SOMETHING_NEW", ForbiddenError),
        (502, "HTTP_502", ServerError),
        (503, "MAINTENANCE", ServerError),
    ],
)
def test_error_for_picks_the_class_by_code_then_by_status(
    status: int, code: str, expected: type[ApiError]
) -> None:
    error = error_for(status, code, "message", 3.0)
    assert type(error) is expected
    assert (error.status, error.code, error.message) == (status, code, "message")
    if isinstance(error, RateLimitedError):
        assert error.retry_after == 3.0
