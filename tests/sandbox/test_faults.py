"""Injected faults and latency."""

import json

import httpx
import pytest

from bot.sandbox import SandboxServer
from tests.sandbox.helpers import RecordingSleep, client_for, create_order, data, error_code


async def order_ids(api: httpx.AsyncClient) -> list[str]:
    return [item["id"] for item in data(await api.get("/v1/orders"))["items"]]


async def test_error500_hits_the_next_matching_requests_only(
    server: SandboxServer, api: httpx.AsyncClient
) -> None:
    server.inject_fault("error500", 2, path="/v1/orders")
    assert data(await api.get("/v1/account"))  # Path does not match.
    for _ in range(2):
        response = await api.post("/v1/orders", json={"service": "tg", "country": 7})
        assert error_code(response, 500) == "INTERNAL"
    assert await order_ids(api) == []  # Refused requests were not processed.


async def test_faults_can_target_one_key(server: SandboxServer, api: httpx.AsyncClient) -> None:
    other = server.create_account()
    server.inject_fault("error500", 1, key=other)
    data(await api.get("/v1/account"))
    async with client_for(server, other) as other_api:
        assert error_code(await other_api.get("/v1/account"), 500) == "INTERNAL"
        data(await other_api.get("/v1/account"))


async def test_unauthenticated_requests_do_not_use_up_faults(server: SandboxServer) -> None:
    server.inject_fault("error500")
    async with client_for(server, None) as anonymous:
        assert error_code(await anonymous.get("/v1/account"), 401) == "AUTH_MISSING"
    async with client_for(server, server.create_account()) as api:
        assert error_code(await api.get("/v1/account"), 500) == "INTERNAL"


async def test_timeout_commits_then_holds_the_answer(
    server: SandboxServer, api: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    server.inject_fault("timeout", 1, path="/v1/orders")
    with pytest.raises(httpx.ReadTimeout):
        await api.post("/v1/orders", json={"service": "tg", "country": 7}, timeout=0.1)
    assert len(await order_ids(api)) == 1  # The create went through.
    assert sleep.seconds()[:1] == [0.3]  # held for hang_seconds
    server.inject_fault("timeout", 1, seconds=0.2)
    assert data(await api.get("/v1/account"))  # A patient client gets the answer.
    assert sleep.seconds() == [0.2]  # held for the fault's seconds first


async def test_drop_create_commits_and_closes_the_connection(
    server: SandboxServer, api: httpx.AsyncClient
) -> None:
    server.inject_fault("drop_create")
    assert data(await api.get("/v1/account"))  # Only creates are dropped.
    with pytest.raises(httpx.RemoteProtocolError):
        await api.post("/v1/orders", json={"service": "tg", "country": 7})
    [dropped] = await order_ids(api)
    snapshot = server.order_snapshot(dropped)
    assert int(data(await api.get("/v1/account"))["balanceCents"]) == 2500 - int(
        snapshot["chargedCents"]
    )
    [create] = [record for record in server.request_log if record.method == "POST"]
    assert create.status is None  # Logged as unanswered.
    await create_order(api)  # The next create is served normally.


async def test_malformed_answers_200_with_invalid_json(
    server: SandboxServer, api: httpx.AsyncClient
) -> None:
    server.inject_fault("malformed", 1, path="/v1/account")
    response = await api.get("/v1/account")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert data(await api.get("/v1/account"))


async def test_latency_for_one_key_or_all(
    server: SandboxServer, api: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    other = server.create_account()
    server.set_latency(0.2, key=other)
    async with client_for(server, other) as slow:
        data(await slow.get("/v1/account"))
        assert sleep.seconds() == [0.2]
    data(await api.get("/v1/account"))
    assert sleep.seconds() == []  # another key: no latency
    server.set_latency(0.1)
    data(await api.get("/v1/account"))
    assert sleep.seconds() == [0.1]


async def test_stop_does_not_wait_for_held_answers(
    server: SandboxServer, key: str, sleep: RecordingSleep
) -> None:
    server.inject_fault("timeout", 1, seconds=60)
    async with client_for(server, key, timeout=0.2) as api:
        with pytest.raises(httpx.ReadTimeout):
            await api.get("/v1/account")
    await server.stop()
    [held] = sleep.waits
    assert held.seconds == 60
    assert held.cancelled  # the held answer was cut short, not waited for
