"""Countries that never deliver or deliver slowly, and prices that change after a quote."""

import httpx

from bot.sandbox import ManualClock, SandboxConfig, SandboxServer
from tests.sandbox.helpers import MakeServer, client_for, create_order, data, error_code


async def _status(api: httpx.AsyncClient, order_id: str) -> str:
    return str(data(await api.get(f"/v1/orders/{order_id}"))["status"])


async def _price(api: httpx.AsyncClient, country: int) -> int:
    prices = data(await api.get("/v1/prices", params={"service": "tg"}))
    items = prices if isinstance(prices, list) else prices["items"]
    found = next(p for p in items if int(p.get("countryId", p.get("country", -1))) == country)
    return int(found["priceCents"])


async def test_never_and_slow_countries(make_server: MakeServer, clock: ManualClock) -> None:
    server = await make_server(
        sms_delay=15, never_deliver=frozenset({15}), slow_deliver=frozenset({32})
    )
    async with client_for(server, server.create_account(balance_cents=5000)) as api:
        normal, never, slow = [(await create_order(api, "tg", c))["id"] for c in (7, 15, 32)]
        clock.advance(16)
        assert await _status(api, normal) == "RECEIVED"
        assert await _status(api, never) == "WAITING"
        assert await _status(api, slow) == "WAITING"
        clock.advance(SandboxConfig().slow_sms_delay)
        assert await _status(api, slow) == "RECEIVED"
        assert await _status(api, never) == "WAITING"
        clock.advance(SandboxConfig().order_ttl)
        assert await _status(api, never) == "CANCELLED"


async def test_a_rising_price_goes_up_after_each_sale(make_server: MakeServer) -> None:
    server = await make_server(rising_prices=frozenset({7}), price_rise_percent=50)
    async with client_for(server, server.create_account(balance_cents=5000)) as api:
        before = await _price(api, 7)
        first = await create_order(api, "tg", 7)
        assert int(first["chargedCents"]) == before
        assert await _price(api, 7) == before + max(1, before // 2)


async def test_price_and_delivery_controls(
    server: SandboxServer, control: httpx.AsyncClient, clock: ManualClock
) -> None:
    assert (await control.post("/price", json={"service": "tg", "country": 7, "cents": 99})).json()
    assert (await control.post("/delivery", json={"country": "my", "mode": "never"})).json()
    async with client_for(server, server.create_account(balance_cents=5000)) as api:
        assert await _price(api, 7) == 99
        order = await create_order(api, "tg", 7)
        assert order["chargedCents"] == "99"
        clock.advance(60)
        assert await _status(api, order["id"]) == "WAITING"
        await control.post("/delivery", json={"country": 7, "mode": "normal"})
        again = await create_order(api, "tg", 7)
        clock.advance(60)
        assert await _status(api, again["id"]) == "RECEIVED"
    bad = [
        ("/price", {"service": "tg", "country": 7}),
        ("/price", {"service": "tg", "country": 7, "cents": -1}),
        ("/delivery", {"country": 7, "mode": "sometimes"}),
    ]
    for path, body in bad:
        assert error_code(await control.post(path, json=body), 400) == "BAD_REQUEST", path
    assert error_code(await control.post("/delivery", json={"country": "xx", "mode": "never"}), 404)


def test_with_trouble_keeps_the_rest() -> None:
    config = SandboxConfig(auto_accounts=True).with_trouble()
    assert config.auto_accounts
    assert config.never_deliver
    assert config.slow_deliver
    assert config.rising_prices
