"""The order state machine and the order list, driven by a manual clock."""

import httpx
import pytest

from bot.sandbox import ManualClock, SandboxServer
from bot.sandbox.clock import iso_ms
from tests.sandbox.helpers import MakeServer, client_for, create_order, data, error_code


async def balance(api: httpx.AsyncClient) -> int:
    return int(data(await api.get("/v1/account"))["balanceCents"])


async def get(api: httpx.AsyncClient, order_id: str) -> dict:
    return data(await api.get(f"/v1/orders/{order_id}"))


async def test_sms_arrives_after_the_delay(
    api: httpx.AsyncClient, server: SandboxServer, clock: ManualClock
) -> None:
    created_at = clock()
    order = await create_order(api)
    clock.advance(14.9)
    assert (await get(api, order["id"]))["status"] == "WAITING"
    clock.advance(30)  # Observed late: the SMS still carries its own arrival time.
    received = await get(api, order["id"])
    assert received["status"] == "RECEIVED"
    assert received["smsBody"].startswith("Your Telegram code is ")
    assert received["smsReceivedAt"] == iso_ms(created_at + 15)
    assert received["smsHistory"] == [
        {"body": received["smsBody"], "receivedAt": received["smsReceivedAt"]}
    ]
    assert server.order_snapshot(order["id"])["sms"][0]["receivedAt"] == created_at + 15


async def test_next_sms_waits_for_another_code_at_no_cost(
    api: httpx.AsyncClient, server: SandboxServer, clock: ManualClock
) -> None:
    order = await create_order(api)
    server.deliver_sms(order["id"], "first 11111")
    paid = await balance(api)
    waiting = data(await api.post(f"/v1/orders/{order['id']}/next-sms"))
    assert waiting["status"] == "WAITING"
    assert waiting["smsBody"] == "first 11111"
    assert error_code(await api.post(f"/v1/orders/{order['id']}/next-sms"), 400) == "BAD_STATUS"
    clock.advance(15)
    again = await get(api, order["id"])
    assert again["status"] == "RECEIVED"
    assert again["smsHistory"][0]["body"] == "first 11111"
    assert len(again["smsHistory"]) == 2
    assert again["smsBody"] == again["smsHistory"][1]["body"]
    assert await balance(api) == paid


async def test_cancel_refunds_an_order_without_sms(api: httpx.AsyncClient) -> None:
    order = await create_order(api)
    assert await balance(api) == 2500 - int(order["chargedCents"])
    cancelled = data(await api.post(f"/v1/orders/{order['id']}/cancel"))
    assert cancelled["status"] == "CANCELLED"
    assert await balance(api) == 2500
    again = await api.post(f"/v1/orders/{order['id']}/cancel")
    assert error_code(again, 400) == "ALREADY_CHANGED"
    assert error_code(await api.post(f"/v1/orders/{order['id']}/next-sms"), 400) == "BAD_STATUS"


async def test_cancel_is_refused_once_an_sms_arrived(
    api: httpx.AsyncClient, server: SandboxServer
) -> None:
    order = await create_order(api)
    server.deliver_sms(order["id"])
    assert error_code(await api.post(f"/v1/orders/{order['id']}/cancel"), 400) == "CODE_RECEIVED"
    data(await api.post(f"/v1/orders/{order['id']}/next-sms"))
    # Waiting again, but a code was received: still no refund.
    assert error_code(await api.post(f"/v1/orders/{order['id']}/cancel"), 400) == "CODE_RECEIVED"


async def test_expiry_without_sms_cancels_with_refund(
    make_server: MakeServer, clock: ManualClock
) -> None:
    server = await make_server(sms_delay=None, order_ttl=600)
    async with client_for(server, server.create_account(balance_cents=2500)) as api:
        order = await create_order(api)
        assert order["expiresAt"] == iso_ms(clock() + 600)
        clock.advance(599)
        assert (await get(api, order["id"]))["status"] == "WAITING"
        clock.advance(1)
        # The account sees the refund without anyone polling the order.
        assert await balance(api) == 2500
        assert (await get(api, order["id"]))["status"] == "CANCELLED"
        assert server.order_snapshot(order["id"])["refundedCents"] == order["chargedCents"]


async def test_expiry_after_an_sms_completes_without_refund(
    make_server: MakeServer, clock: ManualClock
) -> None:
    server = await make_server(sms_delay=10, order_ttl=600)
    async with client_for(server, server.create_account(balance_cents=2500)) as api:
        order = await create_order(api)
        clock.advance(3600)
        final = await get(api, order["id"])
        assert final["status"] == "COMPLETED"
        assert final["smsBody"] is not None
        assert await balance(api) == 2500 - int(order["chargedCents"])
        history = [h["status"] for h in server.order_snapshot(order["id"])["history"]]
        assert history == ["WAITING", "RECEIVED", "COMPLETED"]


async def test_an_sms_due_after_expiry_never_arrives(
    make_server: MakeServer, clock: ManualClock
) -> None:
    server = await make_server(sms_delay=700, order_ttl=600)
    async with client_for(server, server.create_account()) as api:
        order = await create_order(api)
        clock.advance(800)
        assert (await get(api, order["id"]))["status"] == "CANCELLED"


async def test_no_automatic_sms_when_delay_is_none(
    make_server: MakeServer, clock: ManualClock
) -> None:
    server = await make_server(sms_delay=None)
    async with client_for(server, server.create_account()) as api:
        order = await create_order(api)
        clock.advance(1000)
        assert (await get(api, order["id"]))["status"] == "WAITING"
        server.deliver_sms(order["id"], "Your code is 123456")
        assert (await get(api, order["id"]))["smsBody"] == "Your code is 123456"


async def test_expire_and_fail_controls(api: httpx.AsyncClient, server: SandboxServer) -> None:
    first, second, third = [await create_order(api) for _ in range(3)]
    assert server.expire(first["id"])["status"] == "CANCELLED"
    assert server.fail(second["id"])["status"] == "FAILED"
    server.deliver_sms(third["id"])
    assert server.expire(third["id"])["status"] == "COMPLETED"
    assert await balance(api) == 2500 - int(third["chargedCents"])


async def test_list_is_newest_first_with_cursor_pages(api: httpx.AsyncClient) -> None:
    created = [(await create_order(api))["id"] for _ in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = data(await api.get("/v1/orders", params=params))
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == created[::-1]
    assert pages == 3
    everything = data(await api.get("/v1/orders"))
    assert [item["id"] for item in everything["items"]] == created[::-1]
    assert everything["nextCursor"] is None


async def test_list_page_that_exactly_fits_has_no_cursor(api: httpx.AsyncClient) -> None:
    for _ in range(2):
        await create_order(api)
    assert data(await api.get("/v1/orders", params={"limit": 2}))["nextCursor"] is None


async def test_list_status_filter(api: httpx.AsyncClient, server: SandboxServer) -> None:
    waiting, received = await create_order(api), await create_order(api)
    server.deliver_sms(received["id"])
    page = data(await api.get("/v1/orders", params={"status": "RECEIVED"}))
    assert [item["id"] for item in page["items"]] == [received["id"]]
    page = data(await api.get("/v1/orders", params={"status": "WAITING", "limit": 1}))
    assert [item["id"] for item in page["items"]] == [waiting["id"]]
    assert page["nextCursor"] is None


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"status": "NOPE"}, {"cursor": "ck_unknown"}],
)
async def test_list_validation(api: httpx.AsyncClient, params: dict) -> None:
    assert error_code(await api.get("/v1/orders", params=params), 400) == "BAD_REQUEST"


async def test_list_limit_bounds_are_accepted(api: httpx.AsyncClient) -> None:
    for limit in (1, 100):
        assert data(await api.get("/v1/orders", params={"limit": limit}))["items"] == []


async def test_list_lag_shows_past_state_while_get_is_current(
    api: httpx.AsyncClient, server: SandboxServer, clock: ManualClock
) -> None:
    server.set_list_lag(30)
    order = await create_order(api)
    listed = data(await api.get("/v1/orders"))["items"]
    assert [item["status"] for item in listed] == ["WAITING"]  # Young orders are listed.
    clock.advance(20)
    assert (await get(api, order["id"]))["status"] == "RECEIVED"
    listed = data(await api.get("/v1/orders"))["items"][0]
    assert (listed["status"], listed["smsBody"], listed["smsHistory"]) == ("WAITING", None, [])
    assert data(await api.get("/v1/orders", params={"status": "RECEIVED"}))["items"] == []
    clock.advance(25)
    listed = data(await api.get("/v1/orders"))["items"][0]
    assert listed["status"] == "RECEIVED"
    assert listed["smsBody"] is not None
    server.set_list_lag(0)
    cancel_me = await create_order(api)
    data(await api.post(f"/v1/orders/{cancel_me['id']}/cancel"))
    assert data(await api.get("/v1/orders"))["items"][0]["status"] == "CANCELLED"


async def test_orders_of_a_key_ignore_list_lag(
    api: httpx.AsyncClient, server: SandboxServer, key: str
) -> None:
    server.set_list_lag(60)
    first, second = await create_order(api), await create_order(api)
    server.deliver_sms(first["id"])
    orders = server.orders(key)
    assert [order["id"] for order in orders] == [second["id"], first["id"]]
    assert orders[1]["status"] == "RECEIVED"
