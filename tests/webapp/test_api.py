"""The page's JSON API over HTTP: auth, ownership, single-use buys, errors, caching, weight."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.services.purchases import AlreadyUsed
from bot.store import Purchase
from bot.webapp.serialise import direction
from bot.webapp.static import STATIC_DIR
from tests.webapp.conftest import ALICE, BOB, Shop
from tests.webapp.initdata import init_data

PAGE_BUDGET = 150 * 1024  # bytes of HTML, CSS and JS before compression (150 KiB)


async def call(
    http: aiohttp.ClientSession,
    shop: Shop,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    user: int = ALICE,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    url = f"{shop.url}/app/api/{path}"
    sent = shop.auth(user) if headers is None else headers
    if body is None:
        response = await http.get(url, headers=sent)
    else:
        response = await http.post(url, json=body, headers=sent)
    async with response:
        return response.status, await response.json()


async def a_quote(http: aiohttp.ClientSession, shop: Shop, user: int = ALICE) -> dict[str, Any]:
    status, countries = await call(http, shop, "services/wa/countries", user=user)
    assert status == 200
    country = next(c for c in countries["data"]["countries"] if not c["sold_out"])
    status, quote = await call(http, shop, "quote", {"service": "wa", "country": country["id"]})
    assert status == 200, quote
    return quote["data"]


async def test_session_of_a_linked_user(http: aiohttp.ClientSession, shop: Shop) -> None:
    status, body = await call(http, shop, "session")
    assert status == 200
    data = body["data"]
    assert data["user"] == {"id": ALICE, "first_name": "Alice"}
    assert (data["language"], data["direction"], data["linked"]) == ("en", "ltr", True)
    assert data["balance"] == {"cents": 1000, "text": "$10.00"}
    assert data["texts"]["buy"] == "Buy"
    assert "<" not in data["texts"]["confirm"]  # chat HTML stripped for the page
    assert shop.keys[ALICE] not in json.dumps(body)  # the key never reaches the page


async def test_an_unlinked_user_is_told_to_link_in_the_chat(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    status, body = await call(http, shop, "session", user=3003)
    assert status == 200
    assert body["data"]["linked"] is False
    assert body["data"]["balance"] is None
    status, body = await call(http, shop, "services", user=3003)
    assert (status, body["ok"], body["code"]) == (403, False, "NOT_LINKED")
    assert "/link" in body["message"]


def test_right_to_left_languages() -> None:
    assert direction("ar") == direction("fa") == "rtl"
    assert direction("en") == direction("ru") == "ltr"


async def test_services_are_ranked_and_priced_in_cents(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    status, body = await call(http, shop, "services")
    assert status == 200
    items = body["data"]
    assert len(items) == 700
    assert [s["code"] for s in items[:3]] == ["tg", "wa", "go"]
    catalogue = shop.sandbox.engine.catalogue
    for item in items[:20]:
        service = catalogue.service(item["code"])
        assert service is not None
        cheapest = min(o.price_cents for o in catalogue.offers(service) if o.stock > 0)
        assert item["price_cents"] == cheapest
        assert item["price"] == f"${cheapest // 100}.{cheapest % 100:02d}"


async def test_countries_list_sold_out_ones_last(http: aiohttp.ClientSession, shop: Shop) -> None:
    status, body = await call(http, shop, "services/wa/countries")
    assert status == 200
    countries = body["data"]["countries"]
    sold_out = [c["sold_out"] for c in countries]
    assert any(sold_out)
    assert sold_out == sorted(sold_out)  # every sold-out one after every one in stock
    in_stock = [c["price_cents"] for c in countries if not c["sold_out"]]
    assert in_stock == sorted(in_stock)
    first = countries[0]
    assert set(first) == {
        *("id", "slug", "flag", "name", "price_cents", "price", "count", "sold_out"),
        *("rate", "chance"),
    }
    assert first["rate"] is None  # no history yet
    assert sorted(c["chance"] for c in countries) == list(range(len(countries)))
    status, body = await call(http, shop, "services/nope/countries")
    assert (status, body["code"]) == (409, "OFFER_GONE")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer x"},
        {"Authorization": "tma " + init_data(ALICE, int(time.time()), token="1:OTHER")},
        {"Authorization": "tma " + init_data(ALICE, int(time.time()) - 3700)},
        {"Authorization": "tma " + init_data(ALICE, int(time.time()) + 3600)},
    ],
    ids=["missing", "other-scheme", "forged", "stale", "future"],
)
async def test_bad_init_data_is_401_everywhere(
    http: aiohttp.ClientSession, shop: Shop, headers: dict[str, str]
) -> None:
    for path, body in (("session", None), ("services", None), ("buy", {"token": "x"})):
        status, answer = await call(http, shop, path, body, headers=headers)
        assert (status, answer["ok"], answer["code"]) == (401, False, "AUTH")
        assert "Reopen it from the bot" in answer["message"]


async def test_buy_once_per_token_even_when_tapped_twice(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    quote = await a_quote(http, shop)
    assert quote["affordable"] is True
    assert quote["balance"] == "$10.00"
    answers = await asyncio.gather(
        *(call(http, shop, "buy", {"token": quote["token"]}) for _ in range(5))
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 409, 409, 409, 409]
    bought = next(body for status, body in answers if status == 201)["data"]
    refused = [body for status, body in answers if status == 409]
    assert all(r["code"] == "ALREADY_USED" for r in refused)
    assert len(shop.sandbox.orders(shop.keys[ALICE])) == 1
    assert bought["status"] == "WAITING"
    assert bought["can_cancel"] is True
    # A later tap names the order it bought, so the page can open it.
    status, again = await call(http, shop, "buy", {"token": quote["token"]})
    assert (status, again["order"]) == (409, bought["id"])


async def test_a_purchase_shows_the_chat_card_and_the_heads_up_once(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    """What follows a purchase in the chat follows one in the app: the chat's card is shown
    at once, and a balance left below the price brings the heads-up (once a day)."""
    # The balance is set before the confirmation reads it: within a minute the bot takes
    # the balance after a purchase as the one shown less the charge (no second read).
    status, countries = await call(http, shop, "services/wa/countries")
    price = next(c for c in countries["data"]["countries"] if not c["sold_out"])["price_cents"]
    shop.sandbox.set_balance(shop.keys[ALICE], price + price // 2)
    quote = await a_quote(http, shop)
    assert quote["price_cents"] == price
    status, bought = await call(http, shop, "buy", {"token": quote["token"]})
    assert status == 201
    assert shop.chat.cards == [bought["data"]["id"]]
    heads_up = bought["data"]["heads_up"]
    assert heads_up.startswith("Heads-up: your balance is now")
    assert f"${price // 2 / 100:.2f}" in heads_up

    shop.sandbox.set_balance(shop.keys[ALICE], price + price // 2)
    quote = await a_quote(http, shop)
    status, again = await call(http, shop, "buy", {"token": quote["token"]})
    assert status == 201
    assert again["data"]["heads_up"] is None  # said today already
    assert shop.chat.cards == [bought["data"]["id"], again["data"]["id"]]


async def test_a_tap_in_the_chat_and_one_in_the_app_buy_once(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    """The chat's Buy claims through PurchaseService.claim; the app through the same path."""
    quote = await a_quote(http, shop)
    chat_claim, app_answer = await asyncio.gather(
        shop.services.purchases.claim(ALICE, quote["token"]),
        call(http, shop, "buy", {"token": quote["token"]}),
    )
    if isinstance(chat_claim, Purchase):
        assert app_answer[0] == 409
        await shop.services.purchases.create(chat_claim)
    else:
        assert isinstance(chat_claim, AlreadyUsed)
        assert app_answer[0] == 201
    assert len(shop.sandbox.orders(shop.keys[ALICE])) == 1


async def test_another_users_order_is_404(http: aiohttp.ClientSession, shop: Shop) -> None:
    quote = await a_quote(http, shop)
    _, bought = await call(http, shop, "buy", {"token": quote["token"]})
    order_id = bought["data"]["id"]
    for path, body in (
        (f"orders/{order_id}", None),
        (f"orders/{order_id}/cancel", {}),
        (f"orders/{order_id}/next-sms", {}),
    ):
        status, answer = await call(http, shop, path, body, user=BOB)
        assert (status, answer["code"]) == (404, "NOT_FOUND"), path
    events = f"{shop.url}/app/api/orders/{order_id}/events"
    async with http.get(events, headers=shop.auth(BOB)) as response:
        assert response.status == 404
    # Another user's token buys nothing either.
    status, answer = await call(http, shop, "buy", {"token": quote["token"]}, user=BOB)
    assert (status, answer["code"], answer["order"]) == (409, "ALREADY_USED", None)
    status, _ = await call(http, shop, f"orders/{order_id}")
    assert status == 200
    assert len(shop.sandbox.orders(shop.keys[BOB])) == 0


async def test_the_auto_replace_switch_of_a_waiting_order(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    quote = await a_quote(http, shop)
    _, bought = await call(http, shop, "buy", {"token": quote["token"]})
    order = bought["data"]
    assert order["auto_replace"] == {  # the user's default, and how to switch it
        "on": False,
        "label": "🔁 Auto-replace: off",
        "path": "auto-replace?on=true",
    }
    path = f"orders/{order['id']}/auto-replace"
    status, switched = await call(http, shop, path + "?on=true", {})
    assert status == 200
    assert switched["data"]["auto_replace"]["on"] is True
    assert switched["data"]["note"] == "🔁 Auto-replace: on"
    stored = await shop.services.store.get_order(order["id"])
    assert stored is not None
    assert stored.auto_replace
    status, answer = await call(http, shop, path + "?on=false", {}, user=BOB)
    assert (status, answer["code"]) == (404, "NOT_FOUND")
    status, _ = await call(http, shop, path + "?on=maybe", {})
    assert status == 400
    # Once an SMS came there is nothing to replace: the switch is gone.
    shop.sandbox.deliver_sms(order["id"], "Your code is 5555")
    for _ in range(200):
        _, fresh = await call(http, shop, f"orders/{order['id']}")
        if fresh["data"]["codes"]:
            break
        await asyncio.sleep(0.05)  # the test's poller records the SMS
    assert fresh["data"]["auto_replace"] is None
    status, _ = await call(http, shop, path + "?on=false", {})
    assert status == 404


async def test_the_auto_replace_switch_of_a_confirmation(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    quote = await a_quote(http, shop)
    assert quote["auto_replace"] == {
        "on": False,
        "label": "🔁 Auto-replace: off",
        "path": "auto-replace?on=true",
    }
    token = {"token": quote["token"]}
    # Another user's token switches nothing, and is told what the chat tells.
    status, answer = await call(http, shop, "quote/auto-replace?on=true", token, user=BOB)
    assert (status, answer["code"]) == (409, "ALREADY_USED")
    status, _ = await call(http, shop, "quote/auto-replace?on=true", {"token": "../x"})
    assert status == 400
    status, switched = await call(http, shop, "quote/auto-replace?on=true", token)
    assert status == 200
    assert switched["data"] == {
        "auto_replace": {
            "on": True,
            "label": "🔁 Auto-replace: on",
            "path": "auto-replace?on=false",
        },
        "note": "🔁 Auto-replace: on",
    }
    _, bought = await call(http, shop, "buy", token)
    assert bought["data"]["auto_replace"]["on"] is True
    stored = await shop.services.store.get_order(bought["data"]["id"])
    assert stored is not None
    assert stored.auto_replace
    # A spent token's confirmation cannot be switched any more.
    status, answer = await call(http, shop, "quote/auto-replace?on=false", token)
    assert (status, answer["code"]) == (409, "ALREADY_USED")


async def test_errors_speak_the_chats_language(http: aiohttp.ClientSession, shop: Shop) -> None:
    quote = await a_quote(http, shop)
    shop.sandbox.set_balance(shop.keys[ALICE], 0)
    status, answer = await call(http, shop, "buy", {"token": quote["token"]})
    assert (status, answer["code"]) == (402, "INSUFFICIENT")
    assert "Top up on jiema.my" in answer["message"]
    status, answer = await call(http, shop, "quote", {"service": "wa", "country": "x"})
    assert (status, answer["code"]) == (400, "BAD_REQUEST")


async def test_the_stream_pushes_the_stored_order_when_it_changes(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    quote = await a_quote(http, shop)
    _, bought = await call(http, shop, "buy", {"token": quote["token"]})
    order_id = bought["data"]["id"]
    url = f"{shop.url}/app/api/orders/{order_id}/events"
    async with http.get(url, headers=shop.auth(ALICE)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        events = _events(response)
        first = await asyncio.wait_for(anext(events), 5)
        assert first["codes"] == []
        shop.sandbox.deliver_sms(order_id, "code 4242")
        second = await asyncio.wait_for(anext(events), 5)
        assert [c["code"] for c in second["codes"]] == ["4242"]


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    event = None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "order":
            yield json.loads(line[6:])


async def test_the_page_is_cached_by_etag_and_assets_for_good(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    async with http.get(f"{shop.url}/app/") as response:
        html = await response.text()
        etag = response.headers["ETag"]
        assert response.headers["Cache-Control"] == "no-cache"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    async with http.get(f"{shop.url}/app/", headers={"If-None-Match": etag}) as response:
        assert response.status == 304
    for asset in ("app.js", "app.css", "vendor/telegram-web-app.js"):
        digest = hashlib.sha256((STATIC_DIR / asset).read_bytes()).hexdigest()[:16]
        assert f'"{asset}?v={digest}"' in html
        async with http.get(f"{shop.url}/app/{asset}", params={"v": digest}) as response:
            assert response.status == 200
            assert "immutable" in response.headers["Cache-Control"]
    assert "http" not in html  # nothing from a CDN: every URL is the page's own
    async with http.get(f"{shop.url}/app/../bot/config.py") as response:
        assert response.status == 404


def test_the_page_weighs_under_150_kb() -> None:
    files = [p for p in Path(STATIC_DIR).rglob("*") if p.suffix in (".html", ".css", ".js")]
    assert {p.name for p in files} == {"index.html", "app.css", "app.js", "telegram-web-app.js"}
    total = sum(p.stat().st_size for p in files)
    assert total < PAGE_BUDGET, total


def test_the_vendored_bridge_is_the_pinned_release() -> None:
    manifest = json.loads((STATIC_DIR / "vendor" / "telegram-web-app.json").read_text())
    body = (STATIC_DIR / "vendor" / "telegram-web-app.js").read_bytes()
    assert (manifest["package"], manifest["version"]) == ("@twa-dev/sdk", "8.0.2")
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"]
    assert (STATIC_DIR / "vendor" / "LICENSE.twa-dev-sdk").read_text().startswith("MIT License")
