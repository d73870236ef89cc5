"""Favourites and alerts in Chromium, Telegram played by the test (issue 14 in the Mini App)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.webapp.conftest import ALICE, Shop, screenshot


async def _open(page: Page, shop: Shop) -> None:
    await page.goto(shop.launch_url())
    await expect(page.locator("#services li").first).to_be_visible()


async def test_a_favourite_is_first_in_the_services_and_one_tap_from_its_confirmation(
    page: Page, shop: Shop
) -> None:
    await _open(page, shop)
    await page.click("#services [data-code=wa]")
    first = page.locator("#countries button:not([data-sold])").first
    country = await first.get_attribute("data-country")
    name = await first.locator(".name").inner_text()
    await first.click()
    await expect(page.locator("#fav")).to_have_text("☆ Add to favourites")
    await page.click("#fav")
    await expect(page.locator("#fav")).to_have_text("★ In favourites")
    await expect(page.locator("#toast")).to_contain_text("Saved to your favourites")

    await page.click("#back")
    await page.click("#back")
    favourite = page.locator("#services li").first.locator("button")
    await expect(favourite).to_have_attribute("data-fav", f"wa/{country}")
    await expect(favourite.locator(".name")).to_have_text(f"★ WhatsApp · {name}")
    await expect(favourite.locator(".side")).to_contain_text("in stock")
    await screenshot(page, "favourites-light")
    # Searching lists services only; clearing the search brings the favourite back on top.
    await page.fill("#service-search", "tele")
    await expect(page.locator("#services [data-fav]")).to_have_count(0)
    await page.fill("#service-search", "")
    await expect(page.locator("#services li").first.locator("[data-fav]")).to_be_visible()

    await favourite.click()
    await expect(page.locator("#buy")).to_be_enabled()
    await expect(page.locator("main[data-screen=confirm]")).to_contain_text("WhatsApp")
    await expect(page.locator("main[data-screen=confirm]")).to_contain_text(name)
    await expect(page.locator("#fav")).to_have_text("★ In favourites")
    saved = await shop.services.store.favourites(ALICE)
    assert [(f.service, f.country_id) for f in saved] == [("wa", country)]

    # ★ on the order screen toggles the same pair off.
    await page.click("#buy")
    await expect(page.locator("#order")).to_be_visible()
    await expect(page.locator("#fav")).to_have_text("★ In favourites")
    await page.click("#fav")
    await expect(page.locator("#fav")).to_have_text("☆ Add to favourites")
    assert await shop.services.store.favourites(ALICE) == []


async def test_a_sold_out_country_offers_alternatives_and_an_alert_listed_with_cancel(
    page: Page, shop: Shop
) -> None:
    shop.sandbox.set_stock("wa", 6, 0)  # before the page's first catalogue read
    await _open(page, shop)
    await page.click("#services [data-code=wa]")
    sold = page.locator("#countries [data-country='6']")
    await expect(sold).to_have_attribute("data-sold", "")
    await expect(sold).to_contain_text("Out of stock")
    await expect(page.locator("#countries li").last.locator("button")).to_have_attribute(
        "data-sold", ""
    )
    await sold.click()

    await expect(page.locator("#alt-text")).to_contain_text("no numbers left in")
    await expect(page.locator("#alts li")).to_have_count(3)
    await screenshot(page, "alternatives-light")
    await page.click("#notify")
    await expect(page.locator("#toast")).to_contain_text("I'll tell you when WhatsApp has numbers")
    await expect(page.locator("#notify")).to_have_count(0)
    await expect(page.locator("#alt-text")).to_contain_text("I'll tell you when")
    [alert] = await shop.services.store.user_alerts(ALICE)
    assert (alert.service, alert.country_id) == ("wa", "6")

    # An alternative is one tap from its confirmation.
    await page.locator("#alts button").first.click()
    await expect(page.locator("#buy")).to_be_enabled()

    await page.click("#tabs [data-tab=services]")
    row = page.locator(f"#alerts [data-alert='{alert.id}']")
    await expect(row).to_contain_text("WhatsApp · ")
    await expect(row).to_contain_text("left")
    await screenshot(page, "alerts-light")
    await row.locator("button").click()
    await expect(page.locator("#toast")).to_have_text("Alert cancelled.")
    await expect(page.locator("#alerts")).to_have_count(0)
    assert await shop.services.store.user_alerts(ALICE) == []
