"""A person tries the real bot in the playground's web chat, in Chromium.

The playground runs in-process (sandbox, strict fake Bot API, web chat) and the real bot as
its subprocess; the test only uses the page, as a person would.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

from tests.playground.conftest import Playground

# The README's screenshot is retaken with PLAYGROUND_SCREENSHOT=docs/playground.png; otherwise
# the screenshot goes to the test's temporary directory.
SCREENSHOT_VARIABLE = "PLAYGROUND_SCREENSHOT"


def made_up_key() -> str:
    return "jm_" + "".join(secrets.choice(string.ascii_letters) for _ in range(30))


async def send(page: Page, text: str) -> None:
    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")


async def test_buy_a_number_and_get_its_code(
    playground: Playground, context: BrowserContext, tmp_path: Path
) -> None:
    page = await context.new_page()
    await page.goto(playground.url)
    await expect(page.locator("#bot-status")).to_have_text(
        "@jiema_playground_bot · bot", timeout=20_000
    )
    incoming = page.locator("#messages .message.in")

    await send(page, "/start")
    await expect(incoming.last).to_contain_text("Hi, Alice!")
    await expect(incoming.last.locator("code").first).to_have_text("jm_")  # HTML rendered

    key = made_up_key()
    await send(page, f"/link {key}")
    await expect(incoming.last).to_contain_text("Key linked to")
    # The bot deletes the message holding the key; the chat shows it gone.
    await expect(page.locator("#messages .message.out", has_text=key)).to_have_count(0)
    await expect(page.locator("#sandbox-body .balance")).to_have_text("Balance $10.00")

    await send(page, "/buy")
    await expect(incoming.last).to_contain_text("Choose a service")
    await incoming.last.get_by_role("button", name="Telegram", exact=True).click()
    await expect(incoming.last).to_contain_text("choose a country")
    await incoming.last.locator(".keyboard button").first.click()
    await expect(incoming.last).to_contain_text("Confirm your purchase")
    await incoming.last.get_by_role("button", name="Buy", exact=True).click()
    card = incoming.last
    await expect(card).to_contain_text("Waiting for SMS")
    phone = (await card.locator(".bubble").inner_text()).split()[1]
    assert re.fullmatch(r"\+\d{8,15}", phone), phone

    messages_before = await incoming.count()
    order = page.locator("#sandbox-body .order", has_text=phone)
    await expect(order).to_contain_text("WAITING")
    await order.get_by_role("button", name="SMS now").click()
    # The code arrives as a new message (so a phone would notify), not as an edit.
    await expect(incoming).to_have_count(messages_before + 1)
    sms = incoming.last
    await expect(sms).to_contain_text(f"SMS for {phone}")
    code = re.search(r"Code: (\d+)", await sms.inner_text())
    assert code is not None
    await expect(order).to_contain_text("RECEIVED")

    await sms.get_by_role("button", name=f"Copy code {code[1]}").click()
    await expect(page.locator("#toast")).to_have_text("Copied to clipboard")
    assert await page.evaluate("navigator.clipboard.readText()") == code[1]

    await page.locator("#messages").evaluate("list => { list.scrollTop = list.scrollHeight; }")
    screenshot = Path(os.environ.get(SCREENSHOT_VARIABLE) or tmp_path / "playground.png")
    image = await page.screenshot(path=str(screenshot), type="png")
    assert len(image) < 200_000  # small enough for the README

    # Bob, another user, with his Telegram app in Russian.
    await page.locator(".user-tab", has_text="Bob").click()
    await expect(page.locator("#viewer")).to_have_text("you are Bob")
    await page.locator("#language").select_option("ru")
    await expect(page.locator("#language")).to_have_value("ru")
    await send(page, "/start")
    await expect(incoming.last).to_contain_text("Привет, Bob!")
    await expect(page.locator("#sandbox-body")).to_contain_text("has not typed a jiema key")

    # Back to Alice: her chat is as she left it.
    await page.locator(".user-tab", has_text="Alice").click()
    await expect(incoming.last).to_contain_text(f"SMS for {phone}")
    await expect(page.locator(".notice"), "the bot made a Telegram error").to_have_count(0)
