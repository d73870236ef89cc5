"""Favourites and back-in-stock alerts through the page's JSON API (issue 14 in the Mini App).

The real parts: the sandbox jiema API, the SQLite store, the chat's FavouriteService and
AlertService. Each answer is checked for what the page shows and for whose data it is.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.webapp.conftest import ALICE, BOB, Shop
from tests.webapp.test_api import a_quote, call


async def in_stock(http: aiohttp.ClientSession, shop: Shop, service: str = "wa") -> list[int]:
    """The ids of the countries with numbers for ``service``, cheapest first."""
    status, body = await call(http, shop, f"services/{service}/countries")
    assert status == 200
    countries = [c for c in body["data"]["countries"] if not c["sold_out"]]
    return [c["id"] for c in sorted(countries, key=lambda c: (c["price_cents"], -c["count"]))]


async def test_a_favourite_is_toggled_and_listed_with_its_price_and_stock(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    country = (await in_stock(http, shop))[0]
    status, body = await call(http, shop, "favourites", {"service": "wa", "country": country})
    assert status == 200, body
    assert body["data"] == {"on": True, "note": "★ Saved to your favourites: it's first in /buy."}

    status, body = await call(http, shop, "favourites")
    assert status == 200
    [fav] = body["data"]
    assert (fav["service"], fav["service_name"], fav["id"]) == ("wa", "WhatsApp", country)
    assert fav["sold_out"] is False
    assert fav["count"] > 0
    assert fav["price"].startswith("$")
    assert fav["flag"]
    assert fav["name"]

    # Bob has none: favourites are per user.
    status, body = await call(http, shop, "favourites", user=BOB)
    assert (status, body["data"]) == (200, [])

    status, body = await call(http, shop, "favourites", {"service": "wa", "country": country})
    assert body["data"] == {"on": False, "note": "Removed from your favourites."}
    status, body = await call(http, shop, "favourites")
    assert body["data"] == []


async def test_a_sold_out_favourite_is_listed_as_sold_out(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    shop.sandbox.set_stock("tg", 6, 0)  # before the first catalogue read (it is cached)
    status, body = await call(http, shop, "favourites", {"service": "tg", "country": 6})
    assert (status, body["data"]["on"]) == (200, True)
    status, body = await call(http, shop, "favourites")
    [fav] = body["data"]
    assert (fav["service"], fav["id"], fav["count"], fav["sold_out"]) == ("tg", 6, 0, True)


async def test_the_eleventh_favourite_is_refused_as_the_chat_refuses_it(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    countries = await in_stock(http, shop)
    assert len(countries) > 10
    for country in countries[:10]:
        status, body = await call(http, shop, "favourites", {"service": "wa", "country": country})
        assert (status, body["data"]["on"]) == (200, True)
    status, body = await call(http, shop, "favourites", {"service": "wa", "country": countries[10]})
    assert (status, body["ok"], body["code"]) == (409, False, "FAVOURITES_FULL")
    assert body["message"] == "You already have 10 favourites: remove one in /favourites first."
    status, body = await call(http, shop, "favourites")
    assert len(body["data"]) == 10


async def test_an_unknown_pair_or_a_bad_body_is_refused(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    status, body = await call(http, shop, "favourites", {"service": "nope", "country": 7})
    assert (status, body["code"]) == (409, "OFFER_GONE")
    for bad in ({"service": "wa"}, {"service": "wa", "country": True}, {"service": 7}):
        status, body = await call(http, shop, "favourites", bad)
        assert (status, body["code"]) == (400, "BAD_REQUEST")
        status, body = await call(http, shop, "alerts", bad)
        assert (status, body["code"]) == (400, "BAD_REQUEST")


async def test_star_on_an_order_saves_its_pair_for_its_owner_only(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    quote = await a_quote(http, shop)
    status, order = await call(http, shop, "buy", {"token": quote["token"]})
    assert status == 201
    order_id = order["data"]["id"]

    status, body = await call(http, shop, f"orders/{order_id}/favourite", {}, user=BOB)
    assert (status, body["code"]) == (404, "NOT_FOUND")
    status, body = await call(http, shop, "favourites", user=BOB)
    assert body["data"] == []

    status, body = await call(http, shop, f"orders/{order_id}/favourite", {})
    assert (status, body["data"]["on"]) == (200, True)
    status, body = await call(http, shop, "favourites")
    assert [(f["service"], f["id"]) for f in body["data"]] == [("wa", quote["country"]["id"])]


async def test_a_sold_out_country_offers_the_cheapest_alternatives_and_an_alert(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    shop.sandbox.set_stock("wa", 6, 0)  # before the first catalogue read
    status, body = await call(http, shop, "services/wa/countries/6/alternatives")
    assert status == 200, body
    alts = body["data"]
    assert (alts["service"]["code"], alts["country"]["id"], alts["watching"]) == ("wa", 6, False)
    assert "no numbers left in" in alts["text"]
    assert "Notify me" in alts["text"]
    assert "<b>" not in alts["text"]
    assert len(alts["offers"]) == 3
    assert all(o["count"] > 0 and o["id"] != 6 for o in alts["offers"])
    prices = [o["price_cents"] for o in alts["offers"]]
    assert prices == sorted(prices)
    assert prices[0] == min(
        c["price_cents"]
        for c in (await call(http, shop, "services/wa/countries"))[1]["data"]["countries"]
        if not c["sold_out"]
    )

    status, body = await call(http, shop, "alerts", {"service": "wa", "country": 6})
    assert status == 201, body
    assert body["data"]["note"].startswith("🔔 OK: I'll tell you when WhatsApp has numbers in ")
    assert "(for the next 24 hours)" in body["data"]["note"]
    alert = body["data"]["alert"]
    assert alert["service"] == "wa"
    assert alert["label"].startswith("WhatsApp · ")
    assert alert["label"].endswith(" left")

    # The same pair again: the same alert, not a second one.
    status, body = await call(http, shop, "alerts", {"service": "wa", "country": 6})
    assert (status, body["data"]["alert"]["id"]) == (200, alert["id"])
    status, body = await call(http, shop, "services/wa/countries/6/alternatives")
    assert body["data"]["watching"] is True
    assert "I'll tell you when" in body["data"]["text"]
    status, body = await call(http, shop, "alerts")
    assert [a["id"] for a in body["data"]] == [alert["id"]]
    stored = await shop.services.store.user_alerts(ALICE)
    assert [(a.id, a.service, a.country_id) for a in stored] == [(alert["id"], "wa", "6")]


async def test_alerts_are_cancelled_by_their_owner_only(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    status, body = await call(http, shop, "alerts", {"service": "wa", "country": 6})
    assert status == 201
    alert_id = body["data"]["alert"]["id"]

    status, body = await call(http, shop, "alerts", user=BOB)
    assert body["data"] == []
    status, body = await call(http, shop, f"alerts/{alert_id}/cancel", {}, user=BOB)
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert len(await shop.services.store.user_alerts(ALICE)) == 1

    status, body = await call(http, shop, f"alerts/{alert_id}/cancel", {})
    assert (status, body["data"]) == (200, {"note": "Alert cancelled."})
    status, body = await call(http, shop, f"alerts/{alert_id}/cancel", {})
    assert (status, body["code"]) == (404, "NOT_FOUND")
    status, body = await call(http, shop, "alerts")
    assert body["data"] == []
    assert await shop.services.store.user_alerts(ALICE) == []


async def test_the_eleventh_alert_and_an_unknown_country_are_refused(
    http: aiohttp.ClientSession, shop: Shop
) -> None:
    countries = await in_stock(http, shop)
    for country in countries[:10]:
        status, _ = await call(http, shop, "alerts", {"service": "wa", "country": country})
        assert status == 201
    status, body = await call(http, shop, "alerts", {"service": "wa", "country": countries[10]})
    assert (status, body["code"]) == (409, "TOO_MANY_ALERTS")
    assert body["message"] == "You already have 10 alerts waiting: cancel one in /alerts first."
    for path in (
        "services/wa/countries/999999/alternatives",
        "services/nope/countries/6/alternatives",
    ):
        status, body = await call(http, shop, path)
        assert (status, body["code"]) == (409, "OFFER_GONE")
    status, body = await call(http, shop, "alerts", {"service": "wa", "country": 999999}, user=BOB)
    assert (status, body["code"]) == (409, "OFFER_GONE")


async def test_every_new_call_needs_initdata(http: aiohttp.ClientSession, shop: Shop) -> None:
    calls: list[tuple[str, dict[str, Any] | None]] = [
        ("favourites", None),
        ("favourites", {"service": "wa", "country": 6}),
        ("orders/x/favourite", {}),
        ("services/wa/countries/6/alternatives", None),
        ("alerts", None),
        ("alerts", {"service": "wa", "country": 6}),
        ("alerts/x/cancel", {}),
    ]
    for path, body in calls:
        status, answer = await call(http, shop, path, body, headers={})
        assert (status, answer["code"]) == (401, "AUTH"), path
