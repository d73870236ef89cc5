"""A user with a Telegram account and a jiema key attacks the Mini App's API over HTTP.

Each test fails without the protection it names: no API call and no state for junk
quotes; 429s and a respected per-key budget for a flood of reads, while another user is
still served; capped live streams read from the database once per round whatever their
number; a read whose page went away stops waiting for an API slot; and the page (in
Chromium) never puts ``initData`` in a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import aiohttp
import pytest
from playwright.async_api import Page, Request, expect

from bot.api.limiter import Bucket, KeyRateLimiter, RateLimits
from bot.webapp.api import WebAppConfig
from tests.api.helpers import wait_until
from tests.webapp.conftest import ALICE, BOB, GENEROUS, Reads, Shop, running_shop
from tests.webapp.initdata import init_data


async def _call(
    http: aiohttp.ClientSession,
    shop: Shop,
    path: str,
    body: dict[str, Any] | None = None,
    user: int = ALICE,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    url = f"{shop.url}/app/api/{path}"
    if body is None:
        response = await http.get(url, headers=shop.auth(user))
    else:
        response = await http.post(url, json=body, headers=shop.auth(user))
    async with response:
        return response.status, await response.json(), dict(response.headers)


def _api_reads(shop: Shop, path: str) -> int:
    return sum(1 for r in shop.sandbox.request_log if r.path.endswith(path))


async def test_a_flood_of_junk_quotes_costs_no_api_call_and_no_state(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    status, _, _ = await _call(http, shop, "services/wa/countries")  # the lists are cached
    assert status == 200
    prices, size = _api_reads(shop, "/v1/prices"), shop.catalog.size()
    junk = [{"service": f"zz{i:04d}", "country": 7} for i in range(300)]  # well-formed
    junk += [{"service": "x" * 4096 + str(i), "country": 7} for i in range(100)]
    junk += [{"service": "wa", "country": 10**12}, {"service": "w a", "country": 7}]
    for start in range(0, len(junk), 50):
        answers = await asyncio.gather(
            *(_call(http, shop, "quote", body) for body in junk[start : start + 50])
        )
        assert {(s, b["code"]) for s, b, _ in answers} <= {
            (409, "OFFER_GONE"),
            (400, "BAD_REQUEST"),
        }
    for path in (
        "services/zz0001/countries",
        "services/" + "y" * 300 + "/countries",
        "services/zz0002/countries/7/alternatives",
    ):
        status, body, _ = await _call(http, shop, path)
        assert (status, body["code"]) == (409, "OFFER_GONE")
    assert _api_reads(shop, "/v1/prices") == prices  # not one request to the API
    assert shop.catalog.size() == size  # and nothing kept for them


async def test_a_flood_of_session_reads_is_refused_and_another_user_is_served(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    config = WebAppConfig(watch_interval=0.2, rate=1.0, burst=10)
    async with running_shop(tmp_path, config) as shop:
        before = len(shop.sandbox.request_log.for_key(shop.keys[ALICE]))
        answers = await asyncio.gather(*(_call(http, shop, "session") for _ in range(100)))
        refused = [(b, h) for s, b, h in answers if s == 429]
        assert len(refused) >= 100 - 10 - 5  # the burst, and what refilled meanwhile
        body, headers = refused[0]
        assert body["code"] == "RATE_LIMITED"
        assert int(headers["Retry-After"]) >= 1
        assert body["message"] == f"Too many requests. Please wait {headers['Retry-After']} " + (
            "second and try again." if headers["Retry-After"] == "1" else "seconds and try again."
        )
        account_reads = len(shop.sandbox.request_log.for_key(shop.keys[ALICE])) - before
        assert account_reads <= 100 - len(refused)
        status, services, _ = await _call(http, shop, "services", user=BOB)
        assert status == 200
        assert services["data"]
        assert shop.sandbox.stats()["rateLimited"] == 0


async def test_reads_beyond_the_keys_budget_are_told_busy_at_once(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    """The per-user limit let them through; the key's budget does not, and nobody queues."""
    shop.api.limiter = KeyRateLimiter(RateLimits(reads=5, read_reserve=0, window=60.0))
    async with asyncio.timeout(10):  # each waiting for a slot would take a minute
        answers = await asyncio.gather(*(_call(http, shop, "session") for _ in range(20)))
    linked = [b["data"]["balance"] is not None for s, b, _ in answers if s == 200]
    assert linked.count(True) == 5  # five balances read, within the budget
    # A session whose balance cannot be read still answers (linked, balance unknown); the
    # other reads are refused with when to come back.
    status, body, headers = await _call(http, shop, "orders")
    assert (status, body["code"]) == (429, "BUSY")
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert "Too many requests" in body["message"]
    status, _, _ = await _call(http, shop, "services", user=BOB)
    assert status == 200
    assert shop.sandbox.stats()["rateLimited"] == 0


async def test_a_read_whose_page_went_away_stops_waiting(shop: Shop) -> None:
    frozen = 0.0
    limiter = KeyRateLimiter(RateLimits(reads=1, read_reserve=0, window=5.0), clock=lambda: frozen)
    shop.api.limiter = limiter
    await _fill(limiter, shop)
    pending = shop.mounted.api
    reader, writer = await asyncio.open_connection("127.0.0.1", int(shop.url.rsplit(":", 1)[1]))
    auth = shop.auth()["Authorization"]
    writer.write(
        f"GET /app/api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n".encode()
    )
    await writer.drain()
    await wait_until(lambda: pending.pending == 1)  # waiting for the key's one slot
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    await wait_until(lambda: pending.pending == 0)
    del reader


async def _fill(limiter: KeyRateLimiter, shop: Shop) -> None:
    """Spend the only read slot of Alice's key (its cool-down never ends: the clock stands)."""
    key = await shop.services.accounts.key_for(ALICE)
    await shop.api.account(key)
    assert limiter.used(key.id, Bucket.READ) == 1


async def test_fifty_streams_of_one_user_are_capped_and_read_once_per_round(
    http: aiohttp.ClientSession, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{shop.url}/app/api/orders/{await _bought(http, shop)}/events"
    live = shop.mounted.api.app.live
    reads = Reads(monkeypatch)
    async with contextlib.AsyncExitStack() as streams:
        opened = []
        for _ in range(50):
            response = await streams.enter_async_context(http.get(url, headers=shop.auth()))
            assert response.status == 200
            opened.append(response)
        assert live.listeners(ALICE) == GENEROUS.streams_per_user == 3
        for response in opened[:47]:  # each told it was replaced, and ended
            async with asyncio.timeout(5):
                text = (await response.content.read()).decode()
            assert text.endswith("event: closed\ndata: {}\n\n")
        assert all(not r.content.at_eof() for r in opened[47:])
        rounds, before = live.rounds, reads.count
        await wait_until(lambda: live.rounds >= rounds + 10)
        assert live.watchers() == 1
        assert abs((reads.count - before) - (live.rounds - rounds)) <= 1  # one read a round


async def test_init_data_is_in_no_url_the_page_requests(page: Page, shop: Shop) -> None:
    """A journey through every screen to an order's live code: initData only in headers."""
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    now = int(time.time())
    raw = init_data(ALICE, now)
    await page.goto(shop.launch_url(raw=raw))
    await expect(page.locator("#services li").first).to_be_visible()
    await page.click("#services [data-code=tg]")
    await page.locator("#countries button:not([data-sold])").first.click()
    await page.click("#buy")
    await expect(page.locator("#order")).to_be_visible()
    order_id = (await shop.services.store.active_orders_for_user(ALICE))[0].id
    await wait_until(lambda: any(r.url.endswith("/events") for r in requests))
    shop.sandbox.deliver_sms(order_id, "Your code is 8080")
    await expect(page.locator(".code").first).to_have_text("8080", timeout=15_000)
    await page.click("#tabs [data-tab=orders]")
    await expect(page.locator("#orders li").first).to_be_visible()
    await page.click("#tabs [data-tab=balance]")
    await expect(page.locator("#main[data-screen=balance]")).to_be_visible()

    signed = dict(parse_qsl(raw))
    secrets = {raw, quote(raw, safe=""), signed["hash"], "initData", "tgWebAppData"}
    sent = [r.url.partition("#")[0] for r in requests]  # a fragment never leaves the page
    assert [u for u in sent if any(s in u for s in secrets)] == []
    api = [r for r in requests if "/app/api/" in r.url]
    assert {r.url.rsplit("/", 1)[1] for r in api} >= {"session", "events", "orders"}
    assert all(r.headers["authorization"] == "tma " + raw for r in api)


async def test_streams_beyond_the_process_total_are_refused_until_one_ends(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    config = WebAppConfig(watch_interval=0.2, rate=1000.0, burst=1000, streams_total=2)
    async with running_shop(tmp_path, config) as shop:
        url = f"{shop.url}/app/api/orders/{await _bought(http, shop)}/events"
        async with (
            http.get(url, headers=shop.auth()) as first,
            http.get(url, headers=shop.auth()) as second,
        ):
            assert (first.status, second.status) == (200, 200)
            async with http.get(url, headers=shop.auth()) as third:
                assert (third.status, third.headers["Retry-After"]) == (503, "30")
                assert (await third.json())["code"] == "BUSY"
        live = shop.mounted.stream.app.live
        await wait_until(lambda: live.listeners() == 0)  # the pages left
        async with http.get(url, headers=shop.auth()) as again:
            assert again.status == 200


async def _bought(http: aiohttp.ClientSession, shop: Shop) -> str:
    _, countries, _ = await _call(http, shop, "services/wa/countries")
    country = next(c for c in countries["data"]["countries"] if not c["sold_out"])
    _, quote, _ = await _call(http, shop, "quote", {"service": "wa", "country": country["id"]})
    _, bought, _ = await _call(http, shop, "buy", {"token": quote["data"]["token"]})
    return str(bought["data"]["id"])
