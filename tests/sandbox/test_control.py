"""The ``/_sandbox`` controls over HTTP."""

import re
import time

import httpx

from bot.sandbox import ManualClock, SandboxServer, key_fingerprint
from tests.sandbox.helpers import client_for, create_order, data, error_code


async def test_create_account_with_a_generated_key(
    server: SandboxServer, control: httpx.AsyncClient
) -> None:
    created = (await control.post("/accounts", json={})).json()
    assert re.fullmatch(r"jm_[A-Za-z0-9_-]{43}", created["key"])
    assert created["id"] == server.account_id(created["key"])
    async with client_for(server, created["key"]) as api:
        assert data(await api.get("/v1/account"))["balanceCents"] == "1000"


async def test_create_account_with_everything_given(
    server: SandboxServer, control: httpx.AsyncClient
) -> None:
    body = {"key": "jm_mine", "balanceCents": "4200", "displayName": "Alice", "lang": "it"}
    created = (await control.post("/accounts", json=body)).json()
    assert created["key"] == "jm_mine"
    async with client_for(server, "jm_mine") as api:
        account = data(await api.get("/v1/account"))
    assert (account["balanceCents"], account["displayName"], account["lang"]) == (
        "4200",
        "Alice",
        "it",
    )
    assert error_code(await control.post("/accounts", json={"key": "jm_mine"}), 400) == "KEY_EXISTS"
    banned = (await control.post("/accounts", json={"banned": True})).json()["key"]
    async with client_for(server, banned) as api:
        assert error_code(await api.get("/v1/account"), 403) == "FORBIDDEN"


async def test_control_validation(control: httpx.AsyncClient) -> None:
    bad = [
        ("/accounts", {"balanceCents": "-5"}),
        ("/accounts", {"balanceCents": 1.5}),
        ("/accounts", {"banned": "yes"}),
        ("/accounts", [1]),
        ("/faults", {"kind": "meteor"}),
        ("/faults", {"kind": "error500", "count": 0}),
        ("/faults", {}),
        ("/latency", {"seconds": -1}),
        ("/list-lag", {}),
        ("/stock", {"service": "tg", "country": 7}),
        ("/stock", {"service": "tg", "country": 7, "count": -1}),
        ("/rate-window", {"seconds": 0}),
        ("/rate-window", {"seconds": 1, "readLimit": 0}),
    ]
    for path, body in bad:
        assert error_code(await control.post(path, json=body), 400) == "BAD_REQUEST", path
    malformed = await control.post(
        "/latency", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert error_code(malformed, 400) == "BAD_REQUEST"
    assert error_code(await control.get("/nothing-here"), 404) == "NOT_FOUND"


async def test_revoke_and_balance(
    server: SandboxServer, control: httpx.AsyncClient, api: httpx.AsyncClient, key: str
) -> None:
    assert (await control.post(f"/accounts/{key}/balance", json={"balanceCents": "7"})).json() == {
        "ok": True
    }
    assert data(await api.get("/v1/account"))["balanceCents"] == "7"
    assert (await control.post(f"/accounts/{key}/revoke")).status_code == 200
    assert error_code(await api.get("/v1/account"), 401) == "AUTH_INVALID"
    assert error_code(await control.post("/accounts/jm_nobody/revoke"), 404) == "NOT_FOUND"
    missing = await control.post("/accounts/jm_nobody/balance", json={"balanceCents": "1"})
    assert error_code(missing, 404) == "NOT_FOUND"


async def test_order_controls(
    control: httpx.AsyncClient, api: httpx.AsyncClient, clock: ManualClock
) -> None:
    order = await create_order(api)
    delivered = await control.post(f"/orders/{order['id']}/sms", json={"body": "code 424242"})
    assert delivered.json()["smsBody"] == "code 424242"
    snapshot = (await control.get(f"/orders/{order['id']}")).json()
    assert snapshot["sms"][0]["receivedAt"] == clock()
    assert snapshot["status"] == "RECEIVED"
    assert snapshot["smsDueAt"] is None  # The delivered SMS replaced the scheduled one.
    assert (await control.post(f"/orders/{order['id']}/expire")).json()["status"] == "COMPLETED"
    refused = await control.post(f"/orders/{order['id']}/sms")
    assert error_code(refused, 400) == "ALREADY_CHANGED"
    other = await create_order(api)
    assert (await control.post(f"/orders/{other['id']}/fail")).json()["status"] == "FAILED"
    for path in ("/orders/ck_none", "/orders/ck_none/sms", "/orders/ck_none/expire"):
        method = control.get if path.count("/") == 2 else control.post
        assert error_code(await method(path), 404) == "NOT_FOUND"


async def test_fault_latency_and_lag_controls(
    control: httpx.AsyncClient, api: httpx.AsyncClient, server: SandboxServer, key: str
) -> None:
    fault = {"kind": "error500", "count": 1, "path": "/v1/account", "key": key}
    assert (await control.post("/faults", json=fault)).status_code == 200
    assert error_code(await api.get("/v1/account"), 500) == "INTERNAL"
    assert (await control.post("/latency", json={"seconds": 0.15, "key": key})).status_code == 200
    started = time.monotonic()
    data(await api.get("/v1/account"))
    assert time.monotonic() - started >= 0.15
    assert (await control.post("/list-lag", json={"seconds": 5})).status_code == 200
    assert server.engine.list_lag == 5


async def test_stock_and_rate_window_controls(
    control: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    stock = {"service": "telegram", "country": "my", "count": 0}
    assert (await control.post("/stock", json=stock)).status_code == 200
    refused = await api.post("/v1/orders", json={"service": "tg", "country": 7})
    assert error_code(refused, 400) == "NO_NUMBERS"
    unsold = {"service": "tg", "country": "xx", "count": 1}
    assert error_code(await control.post("/stock", json=unsold), 404) == "NOT_FOUND"
    window = {"seconds": 30, "readLimit": 1, "writeLimit": 1}
    assert (await control.post("/rate-window", json=window)).status_code == 200
    data(await api.get("/v1/account"))
    assert (await api.get("/v1/account")).headers["Retry-After"] == "30"


async def test_stats(control: httpx.AsyncClient, api: httpx.AsyncClient, key: str) -> None:
    await create_order(api)
    data(await api.get("/v1/account"))
    await api.get("/v1/nope")  # Unknown routes count for no bucket.
    stats = (await control.get("/stats")).json()
    assert stats == {
        "requests": {key_fingerprint(key): {"read": 1, "write": 1}},
        "rateLimited": 0,
        "rateLimitedByKey": {},
    }
    assert key not in str(stats)
