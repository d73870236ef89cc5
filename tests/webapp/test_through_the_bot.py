"""The Mini App through the real bot process, in Chromium.

Unlike the rest of ``tests/webapp`` (the page's routes mounted on a test server), here the
bot runs as it is deployed (the start-up of ``python -m bot``, in the test's event loop:
:class:`~tests.e2e.inprocess.InProcessBot`) with
``WEBAPP_URL`` on its own HTTP server, the strict fake Bot API plays Telegram (menu button,
``web_app`` buttons, signed launch data) and the sandbox plays jiema. The page is opened the
way a Telegram client opens it: the launch URL the fake user gets from the chat's menu button
or from a button of a message. Codes reach the page through the bot's real poller and its
live stream, and the chat through the bot's real code messages.

The last test runs two replicas on PostgreSQL in webhook mode behind the round-robin
balancer, ``WEBAPP_URL`` on the balancer: the page's live stream is held by one replica
while the other one polls the user's key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from bot.fakebotapi import DARK_THEME, ChatMessage, FakeBotApi, FakeUser, sign_init_data
from bot.sandbox import SandboxConfig, SandboxServer
from tests.e2e.conftest import confirmation
from tests.e2e.fleet import Fleet, balancer_for, replicas_behind
from tests.e2e.harness import BotProcess, delivery_recorded, eventually
from tests.e2e.inprocess import InProcessBot
from tests.webapp.conftest import screenshot

OPEN_APP = "📱 Open the app"
WHATSAPP_SMS = "Your WhatsApp code is 123-456. Don't share it."
REOPEN = "Reopen it from the bot"


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    """The jiema API; SMS arrive only when a test delivers them."""
    async with SandboxServer(SandboxConfig(sms_delay=None, hang_seconds=5.0)) as server:
        yield server


def _print_logs(*processes: BotProcess | InProcessBot) -> None:
    """The bot logs, shown by pytest only when the test failed (captured output)."""
    for process in processes:
        print(f"---- {process.log_path.name} ----\n" + process.log()[-15000:])


@pytest.fixture
async def bot(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp_path: Path
) -> AsyncIterator[InProcessBot]:
    """The bot in polling mode on SQLite, its Mini App at its own HTTP server."""
    bot = InProcessBot(telegram, sandbox, tmp_path / "data")
    bot.env["WEBAPP_URL"] = f"{bot.http_url}/app/"
    await bot.start()
    try:
        yield bot
    finally:
        await bot.close()
        _print_logs(bot)


async def _link(
    telegram: FakeBotApi, sandbox: SandboxServer, user_id: int = 1001, balance_cents: int = 2500
) -> FakeUser:
    """A user whose funded sandbox account is linked in the chat (``user.key`` holds it)."""
    key = sandbox.create_account(balance_cents=balance_cents, display_name="Alice")
    user = telegram.user(user_id, first_name="Alice", language_code="en")
    user.key = key
    await user.send(f"/link {key}")
    await user.wait_for_message(lambda m: "Key linked" in m.text)
    return user


@pytest.fixture
async def alice(bot: InProcessBot, telegram: FakeBotApi, sandbox: SandboxServer) -> FakeUser:
    return await _link(telegram, sandbox)


def _key(user: FakeUser) -> str:
    key = user.key
    assert isinstance(key, str)
    return key


def _codes_in_chat(user: FakeUser, code: str) -> int:
    return sum(1 for m in user.messages if m.from_bot and f"Code: {code}" in m.text)


def _web_app_url(message: ChatMessage) -> str:
    """The Mini App URL of the message's "Open the app" button (a ``web_app`` button)."""
    button = message.button(OPEN_APP)
    assert button.kind == "web_app", button.raw
    assert button.value is not None
    return button.value


async def _open(page: Page, launch: str) -> None:
    """Load the launch URL as a Telegram client does and wait for the services list.

    A mark is left on ``window``: it survives as long as the page is not reloaded.
    """
    await page.goto(launch)
    await expect(page.locator("#services li").first).to_be_visible()
    await page.evaluate("window.notReloaded = true")


async def _still_the_same_page(page: Page) -> None:
    assert await page.evaluate("window.notReloaded === true"), "the page was reloaded"


async def _buy(page: Page, service: str, *, search: str | None = None) -> str:
    """Services → (search) → ``service`` → cheapest country → Buy; the order's phone."""
    if search is not None:
        await page.fill("#service-search", search)
        await expect(page.locator("#services li")).to_have_count(1)
    await page.click(f"#services [data-code={service}]")
    await expect(page.locator("#countries li").first).to_be_visible()
    await page.click("#sort [data-sort=stock]")
    await page.click("#sort [data-sort=price]")
    await page.locator("#countries button:not([disabled])").first.click()
    await expect(page.locator("#buy")).to_be_enabled()
    await page.click("#buy")
    await expect(page.locator("#order")).to_be_visible()
    await expect(page.locator("#status")).to_contain_text("Waiting")
    return await page.locator("#order .phone").inner_text()


def _only_order(sandbox: SandboxServer, user: FakeUser) -> dict[str, Any]:
    orders = sandbox.orders(_key(user))
    assert len(orders) == 1, orders
    return orders[0]


# -- one bot, polling, SQLite ---------------------------------------------------------------


async def test_the_menu_button_start_and_buy_open_the_app(
    bot: InProcessBot, alice: FakeUser, telegram: FakeBotApi, browser: Browser, page: Page
) -> None:
    app_url = f"{bot.http_url}/app/"
    menu = telegram.menu_button(alice.id)
    assert menu == {"type": "web_app", "text": "Open the app", "web_app": {"url": app_url}}
    await alice.send("/start")
    start = await alice.wait_for_message(lambda m: m.from_bot and bool(m.buttons))
    assert _web_app_url(start) == app_url
    await alice.send("/buy")
    services = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    assert _web_app_url(services) == app_url

    launch = alice.open_menu_app()
    assert launch.startswith(app_url + "#tgWebAppData=")
    await _open(page, launch)
    await expect(page.locator("#bal")).to_have_text("$25.00")
    await expect(page.locator("#tabs [data-tab=services]")).to_have_text("Buy a number")
    await screenshot(page, "bot-services-menu-light")
    # The same app from the /buy message's button, in the dark theme. Each launch is a new
    # web view in Telegram (telegram-web-app.js keeps a launch's theme in sessionStorage).
    context = await browser.new_context(viewport={"width": 390, "height": 760})
    try:
        dark = await context.new_page()
        await _open(dark, alice.open_web_app(services, OPEN_APP, theme=DARK_THEME))
        background = await dark.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 15, 15)"  # DARK_THEME's secondary_bg_color
        await screenshot(dark, "bot-services-buy-dark")
    finally:
        await context.close()
    telegram.assert_no_errors()


async def test_buy_in_the_app_the_code_arrives_live_and_once_in_the_chat(
    bot: InProcessBot, alice: FakeUser, sandbox: SandboxServer, telegram: FakeBotApi, page: Page
) -> None:
    await alice.send("/buy")
    services = await alice.wait_for_message(lambda m: "Choose a service" in m.text)
    await _open(page, alice.open_web_app(services, OPEN_APP))
    phone = await _buy(page, "wa", search="whats")
    order = _only_order(sandbox, alice)
    assert order["phone"] == phone
    assert order["service"] == "wa"

    sandbox.deliver_sms(order["id"], WHATSAPP_SMS)
    await expect(page.locator(".code").first).to_have_text("123456", timeout=10_000)
    await expect(page.locator("#next-sms")).to_be_visible()
    await _still_the_same_page(page)
    await screenshot(page, "bot-code-light")
    await alice.wait_for_message(lambda m: "Code: 123456" in m.text, timeout=10)
    await eventually(lambda: delivery_recorded(bot.data_dir, order["id"], 0), what="sent")
    assert _codes_in_chat(alice, "123456") == 1

    await page.click("#next-sms")
    await expect(page.locator("#status")).to_contain_text("Waiting")
    sandbox.deliver_sms(order["id"], "WhatsApp code 778899")
    await expect(page.locator(".code")).to_have_count(2, timeout=10_000)
    await expect(page.locator(".code").nth(1)).to_have_text("778899")
    await _still_the_same_page(page)
    await eventually(lambda: delivery_recorded(bot.data_dir, order["id"], 1), what="sent")
    assert _codes_in_chat(alice, "778899") == 1
    assert _codes_in_chat(alice, "123456") == 1
    telegram.assert_no_errors()


async def test_a_purchase_in_the_app_brings_one_notifying_chat_message_per_code(
    bot: BotProcess, alice: FakeUser, sandbox: SandboxServer, telegram: FakeBotApi, page: Page
) -> None:
    """The chat's card of an order bought in the app is posted silently as it is bought, so
    the SMS brings exactly one new message, the code, and only it makes the phone ring."""
    await _open(page, alice.open_menu_app())
    phone = await _buy(page, "tg")
    # Posted before the app got its answer: no waiting for the poller.
    cards = [m for m in alice.messages if m.from_bot and m.text.startswith(f"📱 {phone}")]
    assert len(cards) == 1
    assert cards[0].disable_notification
    before = {m.message_id for m in alice.messages}

    order = _only_order(sandbox, alice)
    sandbox.deliver_sms(order["id"], "Telegram code 24680")
    await alice.wait_for_message(lambda m: "Code: 24680" in m.text, timeout=10)
    await eventually(lambda: delivery_recorded(bot.data_dir, order["id"], 0), what="sent")
    await alice.wait_for(lambda m: m.message_id == cards[0].message_id and "24680" in m.text)
    new = [m for m in alice.messages if m.message_id not in before]
    assert len(new) == 1
    assert "Code: 24680" in new[0].text
    assert not new[0].disable_notification
    telegram.assert_no_errors()


async def test_cancel_in_the_app_refunds(
    bot: InProcessBot, alice: FakeUser, sandbox: SandboxServer, telegram: FakeBotApi, page: Page
) -> None:
    await _open(page, alice.open_menu_app())
    phone = await _buy(page, "tg")
    order = _only_order(sandbox, alice)
    charged = int(order["chargedCents"])
    assert sandbox.engine.account_of_key(_key(alice)).balance_cents == 2500 - charged
    # The chat shows an order card for an order bought in the app too, and it follows.
    card = await alice.wait_for(lambda m: m.from_bot and m.text.startswith(f"📱 {phone}"))
    await page.click("#cancel")
    await expect(page.locator("#status")).to_contain_text("Cancelled")
    await expect(page.locator("#refunded")).to_have_text(f"Refunded: ${charged / 100:.2f}")
    await expect(page.locator("#bal")).to_have_text("$25.00")
    assert _only_order(sandbox, alice)["status"] == "CANCELLED"
    await alice.wait_for(lambda m: m.message_id == card.message_id and "Cancelled" in m.text)
    assert sandbox.engine.account_of_key(_key(alice)).balance_cents == 2500
    await alice.send("/balance")
    await alice.wait_for_message(lambda m: "Balance: $25.00" in m.text)
    telegram.assert_no_errors()


async def test_a_buy_in_the_chat_and_in_the_app_at_once_buys_once(
    bot: InProcessBot, alice: FakeUser, sandbox: SandboxServer, telegram: FakeBotApi, page: Page
) -> None:
    """The chat's confirmation token spent from both front ends at the same moment."""
    await _open(page, alice.open_menu_app())
    confirm = await confirmation(alice)
    data = confirm.button("Buy").value
    assert data is not None
    assert data.startswith("b:")
    tap = alice.tap(confirm, data)
    status, answer = await page.evaluate(
        """async (token) => {
            const res = await fetch("api/buy", {
                method: "POST",
                headers: {
                    Authorization: "tma " + Telegram.WebApp.initData,
                    "Content-Type": "application/json",
                },
                body: JSON.stringify({ token }),
            });
            return [res.status, await res.json()];
        }""",
        data.removeprefix("b:"),
    )

    def chat_answer() -> str | None:
        for call in telegram.calls("answerCallbackQuery"):
            if call.params.get("callback_query_id") == tap:
                return str(call.params.get("text") or "")
        return None

    await eventually(lambda: chat_answer() is not None, what="the chat's tap answered")
    used = "This button was already used. Each confirmation buys once."
    if status == 201:
        assert answer["data"]["id"] == _only_order(sandbox, alice)["id"]
        assert chat_answer() == used
    else:
        assert (status, answer["code"]) == (409, "ALREADY_USED"), answer
        assert chat_answer() == ""  # the chat won: it stops the spinner, then buys
        card = await alice.wait_for(
            lambda m: m.message_id == confirm.message_id and "Waiting for SMS" in m.text
        )
        assert _only_order(sandbox, alice)["phone"] in card.text
    assert len(sandbox.orders(_key(alice))) == 1
    telegram.assert_no_errors()


def _forged(launch: str, how: str, token: str) -> str:
    """The launch URL with its ``initData`` altered after signing, signed by another bot, or
    signed right but two hours old (the bot accepts one hour)."""
    base, _, fragment = launch.partition("#")
    params = dict(parse_qsl(fragment, keep_blank_values=True))
    fields = dict(parse_qsl(params["tgWebAppData"], keep_blank_values=True))
    user = json.loads(fields["user"])
    auth_date, query_id = int(fields["auth_date"]), fields["query_id"]
    if how == "altered":  # Bob's id in Alice's signed launch
        fields["user"] = fields["user"].replace(f'"id":{user["id"]}', '"id":2002')
        params["tgWebAppData"] = urlencode(fields, quote_via=quote)
    elif how == "other_bot":
        params["tgWebAppData"] = sign_init_data(
            "999999:OTHER", user, auth_date=auth_date, query_id=query_id
        )
    else:
        params["tgWebAppData"] = sign_init_data(
            token, user, auth_date=auth_date - 7200, query_id=query_id
        )
    return base + "#" + urlencode(params, quote_via=quote)


@pytest.mark.parametrize("how", ["altered", "other_bot", "stale"])
async def test_a_forged_or_stale_init_data_gets_the_reopen_screen(
    bot: InProcessBot,
    alice: FakeUser,
    sandbox: SandboxServer,
    telegram: FakeBotApi,
    page: Page,
    how: str,
) -> None:
    await page.goto(_forged(alice.open_menu_app(), how, telegram.token))
    await expect(page.locator("main[data-screen=auth] #reopen")).to_contain_text(REOPEN)
    await expect(page.locator("#tabs")).to_be_hidden()
    await screenshot(page, f"bot-reopen-{how}")
    assert sandbox.orders(_key(alice)) == []
    assert f"initData refused ({'stale' if how == 'stale' else 'bad_hash'})" in bot.log()


# -- two replicas, webhook, PostgreSQL, behind a balancer -------------------------------------


@pytest.fixture
async def fleet(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp_path: Path
) -> AsyncIterator[Fleet]:
    """Two replicas on one fresh PostgreSQL database; Telegram and the page reach them
    through one round-robin balancer (the webhook and ``WEBAPP_URL`` are on it)."""
    async with replicas_behind(balancer_for, telegram, sandbox, tmp_path, webapp=True) as (
        replicas,
        balancer,
        url,
    ):
        try:
            yield Fleet(replicas, balancer, url)
        finally:
            _print_logs(*replicas)


async def _eventually(
    check: Callable[[], Awaitable[bool]], what: str, within: float = 10.0
) -> None:
    """Poll an async ``check`` until it holds (database state no event announces)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"not true within {within} s: {what}"
        await asyncio.sleep(0.05)


async def _is_held(fleet: Fleet, lease: str) -> bool:
    return await fleet.lease_holder(lease) is not None


async def _stream_on(fleet: Fleet, count: int) -> str:
    """The replica holding the ``count``-th live stream, once the balancer passed it on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while len(fleet.streams()) < count:
        assert loop.time() < deadline, f"no live stream #{count}: {fleet.balancer.routed}"
        await asyncio.sleep(0.02)
    return fleet.streams()[count - 1]


async def test_the_live_code_reaches_a_page_streaming_from_the_other_replica(
    fleet: Fleet, telegram: FakeBotApi, sandbox: SandboxServer, page: Page
) -> None:
    alice = await _link(telegram, sandbox)
    public = fleet.balancer.url
    assert telegram.menu_button(alice.id)["web_app"]["url"] == public + "/app/"
    launch = alice.open_menu_app()
    assert urlsplit(launch).netloc == urlsplit(public).netloc
    await _open(page, launch)
    await _buy(page, "wa", search="whats")
    order = _only_order(sandbox, alice)

    lease = f"poll:{alice.id}"
    await _eventually(lambda: _is_held(fleet, lease), "a replica polls the key")
    holder = await fleet.lease_holder(lease)
    assert holder is not None
    poller = fleet.replica_ids()[holder].http_url
    # Round robin decides where the stream lands; reopen the order screen until the stream
    # is on the replica that does not poll. Every other try shifts the turn by one request,
    # so both parities of the page's own request count are covered.
    streamer = await _stream_on(fleet, 1)
    for attempt in range(6):
        if streamer != poller:
            break
        if attempt % 2:
            async with httpx.AsyncClient() as client:
                await client.get(f"{public}/healthz")
        count = len(fleet.streams())
        await page.click("#tabs [data-tab=orders]")
        await page.click(f"#orders [data-order='{order['id']}']")
        await expect(page.locator("#order")).to_be_visible()
        streamer = await _stream_on(fleet, count + 1)
    assert streamer != poller, "the page's stream stayed on the polling replica"
    assert page.url.startswith(public)
    streams = len(fleet.streams())

    sandbox.deliver_sms(order["id"], WHATSAPP_SMS)
    await expect(page.locator(".code").first).to_have_text("123456", timeout=15_000)
    await _still_the_same_page(page)
    assert len(fleet.streams()) == streams, "the code came on the same stream"
    assert await fleet.lease_holder(lease) == holder
    await alice.wait_for_message(lambda m: "Code: 123456" in m.text, timeout=15)
    await screenshot(page, "bot-fleet-code")
    await _eventually(lambda: fleet.delivery_sent(order["id"], 0), "the code sent")
    assert _codes_in_chat(alice, "123456") == 1
