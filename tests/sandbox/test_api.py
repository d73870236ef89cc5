"""The API's endpoints, shapes and errors, over real HTTP."""

import re

import httpx
import pytest

from bot.sandbox import SandboxServer
from tests.sandbox.helpers import MakeServer, client_for, create_order, data, error_code

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ORDER_FIELDS = {
    "id", "status", "service", "country", "phone", "expiresAt", "chargedCents",
    "smsBody", "smsHistory", "smsReceivedAt", "createdAt",
}  # fmt: skip


async def test_account(api: httpx.AsyncClient, server: SandboxServer, key: str) -> None:
    account = data(await api.get("/v1/account"))
    assert account == {
        "id": server.account_id(key),
        "balanceCents": "2500",
        "referralCode": account["referralCode"],
        "displayName": "Sandbox user",
        "lang": "en",
    }


async def test_services(api: httpx.AsyncClient) -> None:
    items = data(await api.get("/v1/services"))["items"]
    assert len(items) == 700
    telegram = items[0]
    assert set(telegram) == {"code", "slug", "name", "minCostUsd", "totalCount", "countryCount"}
    assert (telegram["code"], telegram["slug"], telegram["name"]) == ("tg", "telegram", "Telegram")
    assert isinstance(telegram["minCostUsd"], float)
    assert telegram["countryCount"] >= 100
    assert telegram["totalCount"] > 0


async def test_countries(api: httpx.AsyncClient) -> None:
    items = data(await api.get("/v1/countries"))["items"]
    assert {"id": 7, "slug": "my", "name": "Malaysia"} in items
    assert len(items) >= 180


async def test_prices_list_every_country_of_a_service(
    api: httpx.AsyncClient, server: SandboxServer
) -> None:
    server.set_stock("tg", "my", 0)
    prices = data(await api.get("/v1/prices", params={"service": "telegram"}))
    assert prices["service"] == "tg"
    assert len(prices["items"]) >= 150
    malaysia = next(item for item in prices["items"] if item["countryId"] == 7)
    assert malaysia["countrySlug"] == "my"
    assert malaysia["count"] == 0
    assert malaysia["priceCents"].isdigit()
    services = data(await api.get("/v1/services"))["items"]
    assert services[0]["countryCount"] == sum(1 for i in prices["items"] if i["count"] > 0)


async def test_prices_errors(api: httpx.AsyncClient) -> None:
    assert error_code(await api.get("/v1/prices", params={"service": "nope"}), 400) == "BAD_SERVICE"
    assert error_code(await api.get("/v1/prices"), 400) == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("service", "country"), [("tg", 7), ("telegram", "7"), ("tg", "my"), ("TG", "MY")]
)
async def test_create_accepts_codes_slugs_and_ids(
    api: httpx.AsyncClient, service: str, country: object
) -> None:
    order = await create_order(api, service, country)
    assert set(order) >= ORDER_FIELDS
    assert order["status"] == "WAITING"
    assert (order["service"], order["country"]) == ("tg", "7")
    assert re.fullmatch(r"\+60\d{9}", order["phone"])
    assert order["chargedCents"].isdigit()
    assert (order["smsBody"], order["smsHistory"], order["smsReceivedAt"]) == (None, [], None)
    assert ISO_MS.fullmatch(order["createdAt"])
    assert ISO_MS.fullmatch(order["expiresAt"])


async def test_create_charges_and_takes_stock(api: httpx.AsyncClient) -> None:
    def malaysia(prices: dict) -> dict:
        return next(item for item in prices["items"] if item["countryId"] == 7)

    before = malaysia(data(await api.get("/v1/prices?service=tg")))
    order = await create_order(api)
    after = malaysia(data(await api.get("/v1/prices?service=tg")))
    assert order["chargedCents"] == before["priceCents"]
    assert after["count"] == before["count"] - 1
    balance = data(await api.get("/v1/account"))["balanceCents"]
    assert int(balance) == 2500 - int(order["chargedCents"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"service": "nope", "country": 7}, "BAD_SERVICE"),
        ({"service": "tg", "country": "xx"}, "BAD_COUNTRY"),
        ({"service": "tg", "country": 9999}, "BAD_COUNTRY"),
        ({"service": "tg"}, "BAD_REQUEST"),
        ({"country": 7}, "BAD_REQUEST"),
        ({"service": "tg", "country": True}, "BAD_REQUEST"),
        ({"service": 5, "country": 7}, "BAD_REQUEST"),
        ([1, 2], "BAD_REQUEST"),
    ],
)
async def test_create_validation(api: httpx.AsyncClient, body: object, code: str) -> None:
    assert error_code(await api.post("/v1/orders", json=body), 400) == code


async def test_create_with_malformed_json(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/orders", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert error_code(response, 400) == "BAD_REQUEST"


async def test_create_business_errors(
    api: httpx.AsyncClient, server: SandboxServer, key: str
) -> None:
    server.set_stock("tg", 7, 0)
    assert (
        error_code(await api.post("/v1/orders", json={"service": "tg", "country": 7}), 400)
        == "NO_NUMBERS"
    )
    server.set_balance(key, 1)
    assert (
        error_code(await api.post("/v1/orders", json={"service": "wa", "country": 7}), 400)
        == "INSUFFICIENT"
    )
    assert data(await api.get("/v1/account"))["balanceCents"] == "1"


async def test_create_in_a_country_the_service_is_not_sold_in(
    api: httpx.AsyncClient, server: SandboxServer
) -> None:
    catalogue = server.engine.catalogue
    service = catalogue.services[-1]
    sold = {offer.country_id for offer in catalogue.offers(service)}
    unsold = next(c for c in catalogue.countries if c.id not in sold)
    response = await api.post("/v1/orders", json={"service": service.code, "country": unsold.id})
    assert error_code(response, 400) == "NO_NUMBERS"


async def test_both_auth_headers_work(server: SandboxServer, key: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
            assert data(await client.get("/v1/account", headers=headers))["balanceCents"] == "2500"


async def test_auth_errors(server: SandboxServer) -> None:
    revoked = server.create_account()
    server.revoke_key(revoked)
    banned = server.create_account(banned=True)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        cases = [
            ({}, 401, "AUTH_MISSING"),
            ({"Authorization": "Bearer jm_unknown_key_aaaaaaaaaaaaaaaaaaaaa"}, 401, "AUTH_INVALID"),
            ({"X-API-Key": "jm_unknown_key_aaaaaaaaaaaaaaaaaaaaa"}, 401, "AUTH_INVALID"),
            ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "AUTH_INVALID"),
            ({"Authorization": f"Bearer {revoked}"}, 401, "AUTH_INVALID"),
            ({"X-API-Key": banned}, 403, "FORBIDDEN"),
        ]
        for headers, status, code in cases:
            assert error_code(await client.get("/v1/account", headers=headers), status) == code


async def test_unknown_routes_are_404(api: httpx.AsyncClient, server: SandboxServer) -> None:
    assert error_code(await api.get("/v1/nope"), 404) == "NOT_FOUND"
    assert error_code(await api.delete("/v1/orders"), 404) == "NOT_FOUND"
    async with httpx.AsyncClient() as client:
        origin = server.base_url.removesuffix("/api")
        assert error_code(await client.get(origin + "/elsewhere"), 404) == "NOT_FOUND"


async def test_orders_of_another_user_are_not_found(
    api: httpx.AsyncClient, server: SandboxServer
) -> None:
    order = await create_order(api)
    async with client_for(server, server.create_account()) as stranger:
        for response in (
            await stranger.get(f"/v1/orders/{order['id']}"),
            await stranger.post(f"/v1/orders/{order['id']}/cancel"),
            await stranger.post(f"/v1/orders/{order['id']}/next-sms"),
        ):
            assert error_code(response, 404) == "NOT_FOUND"
        assert data(await stranger.get("/v1/orders"))["items"] == []
    assert error_code(await api.get("/v1/orders/ck_missing"), 404) == "NOT_FOUND"


async def test_auto_accounts(make_server: MakeServer) -> None:
    server = await make_server(auto_accounts=True)
    made_up = "jm_" + "a" * 43
    async with client_for(server, made_up) as client:
        assert data(await client.get("/v1/account"))["balanceCents"] == "1000"
        await create_order(client)
        assert data(await client.get("/v1/account"))["balanceCents"] != "1000"
    for bad in ("jm_short", "xx_" + "a" * 43, "jm_" + "a" * 65, "jm_" + "!" * 30):
        async with client_for(server, bad) as client:
            assert error_code(await client.get("/v1/account"), 401) == "AUTH_INVALID"
    server.revoke_key(made_up)
    banned = server.create_account("jm_" + "b" * 43, banned=True)
    async with client_for(server, made_up) as client:
        assert error_code(await client.get("/v1/account"), 401) == "AUTH_INVALID"
    async with client_for(server, banned) as client:
        assert error_code(await client.get("/v1/account"), 403) == "FORBIDDEN"


async def test_unknown_keys_are_refused_without_auto_accounts(server: SandboxServer) -> None:
    async with client_for(server, "jm_" + "a" * 43) as client:
        assert error_code(await client.get("/v1/account"), 401) == "AUTH_INVALID"
