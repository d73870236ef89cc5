"""The web chat as a Telegram client, in Chromium, with the test playing the bot.

The test talks to the strict fake Bot API over HTTP exactly as a bot does (getUpdates,
sendMessage…), so every detail of what the chat must show can be provoked on purpose: each
kind of formatting, a callback answer that comes late, an edit, an error the bot is answered.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import BrowserContext, Page, expect

from bot.fakebotapi import FakeBotApi
from bot.fakebotapi.webapp import DARK_THEME, LIGHT_THEME, init_data_hash
from bot.playground.chat import BotStatus, ChatServer
from bot.sandbox import SandboxConfig, SandboxServer
from tests.playground.conftest import free_port_pair

TOKEN = "123456:PLAYGROUND-TEST"


class BotSide:
    """The bot's side of the Bot API, spoken over HTTP."""

    def __init__(self, telegram: FakeBotApi, session: aiohttp.ClientSession) -> None:
        self._base = f"{telegram.base_url}{telegram.token}"
        self._session = session
        self._offset = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """The whole answer (``ok``, ``result`` or ``description``)."""
        async with self._session.post(f"{self._base}/{method}", json=params) as response:
            body: dict[str, Any] = await response.json()
            return body

    async def send(self, chat_id: int, html: str, **params: Any) -> dict[str, Any]:
        answer = await self.call(
            "sendMessage", chat_id=chat_id, text=html, parse_mode="HTML", **params
        )
        assert answer["ok"], answer
        result: dict[str, Any] = answer["result"]
        return result

    async def waiting_updates(self) -> list[dict[str, Any]]:
        """The updates not fetched yet, without waiting."""
        answer = await self.call("getUpdates", offset=self._offset, timeout=0)
        assert answer["ok"], answer
        updates: list[dict[str, Any]] = answer["result"]
        return updates

    async def next_update(self) -> dict[str, Any]:
        answer = await self.call("getUpdates", offset=self._offset, timeout=10)
        assert answer["ok"], answer
        assert answer["result"], "no update within 10 s"
        update: dict[str, Any] = answer["result"][0]
        self._offset = update["update_id"] + 1
        return update


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN, "jiema_test_bot", bot_first_name="Test Bot") as server:
        yield server


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(SandboxConfig(auto_accounts=True, sms_delay=None)) as server:
        yield server


@pytest.fixture
async def chat_url(telegram: FakeBotApi, sandbox: SandboxServer) -> AsyncIterator[str]:
    """The web chat for Alice (1001) and Bob (1002), without any bot process."""
    users = [
        telegram.user(1001, "Alice", language_code="en"),
        telegram.user(1002, "Bob", language_code="en"),
    ]
    chat = ChatServer(
        telegram, sandbox, users, lambda: BotStatus("online", None, "bot.log"), time.time
    )
    url = await chat.start("127.0.0.1", free_port_pair())
    yield url
    await chat.stop()


@pytest.fixture
async def bot(telegram: FakeBotApi) -> AsyncIterator[BotSide]:
    async with aiohttp.ClientSession() as session:
        yield BotSide(telegram, session)


async def open_chat(context: BrowserContext, url: str, bot: BotSide) -> Page:
    """Alice's chat, after she wrote /start (until then the bot may not write to her)."""
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator("#bot-status")).to_have_text("@jiema_test_bot · bot")
    await page.locator("#input").fill("/start")
    await page.locator("#input").press("Enter")
    assert (await bot.next_update())["message"]["text"] == "/start"
    return page


async def test_html_is_rendered_as_telegram_renders_it(
    context: BrowserContext, chat_url: str, bot: BotSide
) -> None:
    page = await open_chat(context, chat_url, bot)
    assert (await bot.call("sendChatAction", chat_id=1001, action="typing"))["ok"]
    await expect(page.locator("#bot-status")).to_have_text("typing…")
    await bot.send(
        1001,
        "<b>bold <i>bold italic</i></b> <i>italic</i> <u>under</u> <s>struck</s> "
        '<code>48213</code> <a href="https://jiema.my/">jiema</a> '
        '<tg-spoiler>secret</tg-spoiler>\n<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote>quoted</blockquote> 😀 /help",
    )
    bubble = page.locator("#messages .message.in .bubble").last
    await expect(page.locator("#bot-status")).to_have_text("@jiema_test_bot · bot")  # it came
    await expect(bubble.locator("strong")).to_have_text("bold bold italic")
    await expect(bubble.locator("strong em")).to_have_text("bold italic")
    await expect(bubble.locator("> em")).to_have_text("italic")
    await expect(bubble.locator("u")).to_have_text("under")
    await expect(bubble.locator("s")).to_have_text("struck")
    await expect(bubble.locator("pre code.language-python")).to_have_text("x = 1")
    await expect(bubble.locator("blockquote")).to_have_text("quoted")
    link = bubble.get_by_role("link", name="jiema")
    await expect(link).to_have_attribute("href", "https://jiema.my/")
    await expect(link).to_have_attribute("target", "_blank")
    spoiler = bubble.locator(".spoiler")
    await expect(spoiler).not_to_have_class("spoiler revealed")
    await spoiler.click()
    await expect(spoiler).to_have_class("spoiler revealed")
    # Tapping inline code copies it, as in Telegram's apps.
    await bubble.locator("> code").click()
    await expect(page.locator("#toast")).to_have_text("Copied to clipboard")
    assert await page.evaluate("navigator.clipboard.readText()") == "48213"
    # An auto-detected command sends it.
    await bubble.get_by_text("/help").click()
    update = await bot.next_update()
    assert update["message"]["text"] == "/help"


async def test_callback_spinner_answer_and_edit_in_place(
    context: BrowserContext, chat_url: str, bot: BotSide, telegram: FakeBotApi
) -> None:
    page = await open_chat(context, chat_url, bot)
    keyboard = {
        "inline_keyboard": [
            [{"text": "Press me", "callback_data": "press"}],
            [{"text": "Open site", "url": f"{chat_url}?from=button"}],
        ]
    }
    sent = await bot.send(1001, "Pick one", reply_markup=keyboard)
    button = page.get_by_role("button", name="Press me")
    await button.click()
    # The button spins until the bot answers the callback query.
    await expect(button).to_have_class("pending")
    query = (await bot.next_update())["callback_query"]
    assert (query["data"], query["from"]["id"]) == ("press", 1001)
    await expect(button).to_have_class("pending")
    answered = await bot.call(
        "answerCallbackQuery", callback_query_id=query["id"], text="Done!", show_alert=True
    )
    assert answered["ok"], answered
    await expect(page.locator("#alert")).to_be_visible()
    await expect(page.locator("#alert-text")).to_have_text("Done!")
    await page.locator("#alert button").click()
    await expect(button).not_to_have_class("pending")

    # A URL button opens its link in a new tab; the bot hears nothing of it.
    async with context.expect_page() as opened:
        await page.get_by_role("button", name="Open site").click()
    assert (await opened.value).url == f"{chat_url}?from=button"
    assert await bot.waiting_updates() == []

    # An edit changes the same message in place; it is not a new one.
    edited = await bot.call(
        "editMessageText",
        chat_id=1001,
        message_id=sent["message_id"],
        text="Picked <b>one</b>",
        parse_mode="HTML",
    )
    assert edited["ok"], edited
    message = page.locator(f'#messages .message[data-id="{sent["message_id"]}"]')
    await expect(message.locator("strong")).to_have_text("one")
    await expect(message.locator(".meta")).to_contain_text("edited")
    await expect(page.locator("#messages .message.in")).to_have_count(1)
    await expect(page.locator("#new-count")).to_be_hidden()
    telegram.assert_no_errors()


async def test_new_message_while_scrolled_up_shows_a_badge(
    context: BrowserContext, chat_url: str, bot: BotSide, telegram: FakeBotApi
) -> None:
    page = await open_chat(context, chat_url, bot)
    for n in range(6):
        await bot.send(1001, f"Message {n}\n" + "line\n" * 12)
    await expect(page.locator("#messages .message.in")).to_have_count(6)
    await page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    last = await bot.send(1001, "A new one")
    await expect(page.locator("#new-count")).to_have_text("1")
    await expect(page).to_have_title("(1) Playground · jiema bot")
    # An edit is no new message: the counter stays.
    await bot.call("editMessageText", chat_id=1001, message_id=last["message_id"], text="Edited")
    await expect(
        page.locator(f'#messages .message[data-id="{last["message_id"]}"]')
    ).to_contain_text("Edited")
    await expect(page.locator("#new-count")).to_have_text("1")
    await page.locator("#new-badge").click()
    await expect(page.locator("#new-count")).to_be_hidden()
    await expect(page).to_have_title("Playground · jiema bot")

    # A message for Bob, while Alice's chat is shown, counts on Bob's tab.
    await telegram.user(1002, "Bob").send("/start")
    await bot.next_update()
    await bot.send(1002, "Hello Bob")
    await expect(page.locator(".user-tab", has_text="Bob").locator(".count")).to_have_text("1")


async def test_a_telegram_error_shows_as_a_red_notice(
    context: BrowserContext, chat_url: str, bot: BotSide, telegram: FakeBotApi
) -> None:
    page = await open_chat(context, chat_url, bot)
    await bot.send(1001, "Before the error")
    answer = await bot.call("sendMessage", chat_id=1001, text="<b>never closed", parse_mode="HTML")
    assert not answer["ok"]
    assert [r.method for r in telegram.errors] == ["sendMessage"]
    notice = page.locator("#messages .notice")
    await expect(notice).to_contain_text("Telegram error in sendMessage")
    await expect(notice).to_contain_text(answer["description"])
    # It stands after the message that was last when the bot made the error.
    await expect(page.locator("#messages > *").last).to_have_class("notice")
    await bot.send(1001, "After the error")
    await expect(page.locator("#messages > *").last).to_contain_text("After the error")
    await expect(page.locator("#messages > *").nth(2)).to_have_class("notice")

    # A callback query answered twice: the error belongs to the chat of the pressed button.
    sent = await bot.send(
        1001, "Tap", reply_markup={"inline_keyboard": [[{"text": "Tap", "callback_data": "t"}]]}
    )
    await page.locator(f'.message[data-id="{sent["message_id"]}"]').get_by_role("button").click()
    query = (await bot.next_update())["callback_query"]
    assert (await bot.call("answerCallbackQuery", callback_query_id=query["id"]))["ok"]
    again = await bot.call("answerCallbackQuery", callback_query_id=query["id"])
    await expect(notice.last).to_contain_text("Telegram error in answerCallbackQuery")
    await expect(notice.last).to_contain_text(again["description"])
    await expect(notice).to_have_count(2)

    # Bob's chat is not concerned.
    await page.locator(".user-tab", has_text="Bob").click()
    await expect(page.locator("#viewer")).to_have_text("you are Bob")
    await expect(page.locator("#messages .notice")).to_have_count(0)


# A Mini App that speaks to its client as telegram-web-app.js does (JSON postMessage to the
# parent): it shows a main and a back button, asks for the theme, and lists what it receives.
MINI_APP = """<!doctype html><h1>Mini App</h1><ol id="got"></ol><script>
const post = (eventType, eventData) =>
  window.parent.postMessage(JSON.stringify({ eventType, eventData }), "*");
window.addEventListener("message", (event) => {
  const { eventType, eventData } = JSON.parse(event.data);
  const item = document.createElement("li");
  item.textContent = eventType === "theme_changed" ? `theme ${eventData.theme_params.bg_color}`
    : eventType;
  document.getElementById("got").append(item);
  if (eventType === "back_button_pressed") post("web_app_close");
});
post("web_app_setup_main_button",
  { is_visible: true, is_active: true, text: "Pay $0.10", color: "#31b545", text_color: "#fff" });
post("web_app_setup_back_button", { is_visible: true });
post("web_app_request_theme");
</script>"""


async def test_command_menu_and_menu_button_open_the_mini_app_with_signed_init_data(
    context: BrowserContext, chat_url: str, bot: BotSide, telegram: FakeBotApi
) -> None:
    async def mini_app(_: web.Request) -> web.Response:
        return web.Response(text=MINI_APP, content_type="text/html")

    app = web.Application()
    app.router.add_get("/app/", mini_app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        host, port = runner.addresses[0][:2]
        app_url = f"http://{host}:{port}/app/"
        commands = [{"command": "buy", "description": "Buy a number"}]
        assert (await bot.call("setMyCommands", commands=commands))["ok"]
        ru = [{"command": "buy", "description": "Купить номер"}]
        assert (await bot.call("setMyCommands", commands=ru, language_code="ru"))["ok"]
        menu = {"type": "web_app", "text": "Open app", "web_app": {"url": app_url}}
        assert (await bot.call("setChatMenuButton", chat_id=1001, menu_button=menu))["ok"]
        page = await open_chat(context, chat_url, bot)

        await page.locator("#slash").click()
        await expect(page.locator("#commands")).to_contain_text("/buyBuy a number")
        await page.locator("#commands button", has_text="/buy").click()
        assert (await bot.next_update())["message"]["text"] == "/buy"
        await page.locator("#language").select_option("ru")
        await page.locator("#slash").click()
        await expect(page.locator("#commands")).to_contain_text("Купить номер")

        await page.get_by_role("button", name="Open app").click()
        frame = page.frame_locator("#webapp-frame")
        await expect(frame.locator("h1")).to_have_text("Mini App")
        src = await page.locator("#webapp-frame").get_attribute("src")
        assert src is not None
        assert src.startswith(app_url + "#")
        launch = dict(parse_qsl(src.partition("#")[2]))
        assert json.loads(launch["tgWebAppThemeParams"]) == LIGHT_THEME
        fields = dict(parse_qsl(launch["tgWebAppData"]))
        assert fields["hash"] == init_data_hash(telegram.token, fields)
        user = json.loads(fields["user"])
        assert (user["id"], user["first_name"], user["language_code"]) == (1001, "Alice", "ru")
        assert abs(int(fields["auth_date"]) - time.time()) < 60
        got = frame.locator("#got li")
        await expect(got.first).to_have_text(f"theme {LIGHT_THEME['bg_color']}")
        # The client draws the app's main button below it and tells it of presses.
        main = page.locator("#webapp-main")
        await expect(main).to_have_text("Pay $0.10")
        await expect(main).to_have_css("background-color", "rgb(49, 181, 69)")
        await main.click()
        await expect(got.last).to_have_text("main_button_pressed")
        await page.locator("#theme").select_option("dark")
        await expect(got.last).to_have_text(f"theme {DARK_THEME['bg_color']}")
        await page.locator("#theme").select_option("light")
        # Its back button: this app closes itself on a press.
        await page.locator("#webapp-back").click()
        await expect(page.locator("#webapp")).to_be_hidden()

        # An inline web_app button opens it too, with a fresh launch in the dark theme.
        await page.locator("#theme").select_option("dark")
        keyboard = {"inline_keyboard": [[{"text": "Shop", "web_app": {"url": app_url}}]]}
        await bot.send(1001, "Open the shop", reply_markup=keyboard)
        await page.get_by_role("button", name="Shop").click()
        await expect(frame.locator("h1")).to_have_text("Mini App")
        await expect(page.locator("#webapp-title")).to_have_text("Shop")
        src = await page.locator("#webapp-frame").get_attribute("src")
        assert src is not None
        launch = dict(parse_qsl(src.partition("#")[2]))
        assert json.loads(launch["tgWebAppThemeParams"]) == DARK_THEME
        fields = dict(parse_qsl(launch["tgWebAppData"]))
        assert fields["hash"] == init_data_hash(telegram.token, fields)
    finally:
        await runner.cleanup()


async def test_sandbox_panel_acts_on_the_orders_of_the_key_typed(
    context: BrowserContext, chat_url: str, bot: BotSide, sandbox: SandboxServer
) -> None:
    page = await open_chat(context, chat_url, bot)
    panel = page.locator("#sandbox-body")
    await expect(panel).to_contain_text("has not typed a jiema key")
    key = "jm_" + "a" * 30
    await page.locator("#input").fill(f"/link {key}")
    await page.locator("#send").click()
    await expect(panel).to_contain_text("the bot has not used it yet")
    assert (await bot.next_update())["message"]["text"] == f"/link {key}"

    # What the bot would do with the key: the sandbox opens the account and sells numbers.
    engine = sandbox.engine
    telegram_service = engine.catalogue.service("tg")
    assert telegram_service is not None
    offers = [o for o in engine.catalogue.offers(telegram_service) if o.stock]
    first, second = (
        engine.create_order(engine.authenticate(key), "tg", offer.country_id).order
        for offer in offers[:2]
    )
    await expect(panel.locator(".order")).to_have_count(2)
    await expect(panel.locator(".balance")).to_have_text(
        f"Balance ${(1000 - offers[0].price_cents - offers[1].price_cents) / 100:.2f}"
    )
    first_card = panel.locator(f'.order[data-order="{first.id}"]')
    await expect(first_card).to_contain_text("Telegram · 0 SMS · WAITING")
    await first_card.get_by_role("button", name="SMS now").click()
    await expect(first_card).to_contain_text("Telegram · 1 SMS · RECEIVED")
    assert engine.order(first.id).sms

    second_card = panel.locator(f'.order[data-order="{second.id}"]')
    await second_card.get_by_role("button", name="Expire now").click()
    await expect(second_card).to_contain_text("CANCELLED")
    await expect(second_card.get_by_role("button", name="SMS now")).to_be_disabled()
    await expect(second_card.get_by_role("button", name="Expire now")).to_be_disabled()
