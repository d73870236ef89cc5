"""The Mini App in Chromium: delivery rates on the country rows, the Best chance sort, the
rate on the confirmation, and the price guard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from playwright.async_api import Page, expect

from bot.services.purchases import Bought, Quote
from tests.webapp.conftest import ALICE, BOB, Shop


def _cheapest_in_stock(shop: Shop, service: str = "wa") -> list[int]:
    catalogue = shop.sandbox.engine.catalogue
    found = catalogue.service(service)
    assert found is not None
    offers = sorted(
        (o for o in catalogue.offers(found) if o.stock > 0), key=lambda o: o.price_cents
    )
    return [o.country_id for o in offers]


async def _history(shop: Shop, user_id: int, country: int, *, delivered: bool) -> None:
    """Five orders of WhatsApp in ``country``: each gets an SMS, or expires without one."""
    for _ in range(5):
        quote = await shop.services.purchases.quote(user_id, "wa", country)
        assert isinstance(quote, Quote)
        bought = await shop.services.purchases.buy(user_id, quote.purchase.token)
        assert isinstance(bought, Bought)
        if delivered:
            shop.sandbox.deliver_sms(bought.order.id, "Your WhatsApp code is 123-456.")
        else:
            shop.sandbox.expire(bought.order.id)


async def _counted(shop: Shop, total: int) -> None:
    """Wait (bounded) until the test's poller has counted ``total`` orders."""
    today = datetime.now(UTC).date()
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        counts = await shop.services.store.delivery_counts("wa", today)
        if sum(c.orders for c in counts) >= total:
            return
        assert asyncio.get_running_loop().time() < deadline, counts
        await asyncio.sleep(0.05)


async def test_best_chance_puts_the_country_that_delivers_first(page: Page, shop: Shop) -> None:
    cheapest, _, dearer = _cheapest_in_stock(shop)[:3]
    await _history(shop, ALICE, cheapest, delivered=False)
    await _history(shop, BOB, dearer, delivered=True)
    await _counted(shop, 10)

    await page.goto(shop.launch_url())
    await page.click("#services [data-code=wa]")
    rows = page.locator("#countries button")
    await expect(rows.first).to_have_attribute("data-country", str(cheapest))  # by price
    await expect(rows.first.locator(".side small.sold").last).to_have_text("📩 ⚠️ 0%")
    await page.click("#sort [data-sort=chance]")
    await expect(page.locator("#sort [data-sort=chance]")).to_have_text("Best chance")
    await expect(rows.first).to_have_attribute("data-country", str(dearer))
    await expect(rows.first).to_contain_text("📩 100%")
    in_stock = page.locator("#countries button:not([data-sold])")
    await expect(in_stock.last).to_have_attribute("data-country", str(cheapest))  # poor: last

    await rows.first.click()
    await expect(page.locator("#rate")).to_have_text(
        "100% of recent orders here got an SMS, usually within 15 seconds."
    )


async def test_a_price_raised_before_buy_offers_the_new_price(page: Page, shop: Shop) -> None:
    country = _cheapest_in_stock(shop)[0]
    await page.goto(shop.launch_url())
    await page.click("#services [data-code=wa]")
    await page.click(f"#countries [data-country='{country}']")
    await expect(page.locator("#buy")).to_be_enabled()
    price = await page.locator("#main .big").inner_text()
    cents = round(float(price.strip().lstrip("$")) * 100)
    shop.sandbox.set_price("wa", country, cents + 4)

    await page.click("#buy")
    new_price = f"${(cents + 4) / 100:.2f}"
    await expect(page.locator("#rose")).to_have_text(
        f"⚠️ The price went up from {price.strip()} to {new_price}; you have not paid anything."
    )
    await expect(page.locator("#main .big")).to_have_text(new_price)
    [refused] = shop.sandbox.orders(shop.keys[ALICE])
    assert refused["status"] == "CANCELLED"
    await page.click("#buy")
    await expect(page.locator("#order")).to_be_visible()
    [order] = await shop.services.store.active_orders_for_user(ALICE)
    assert order.charged_cents == cents + 4
