"""Mini Apps in the fake Bot API: menu buttons, web_app buttons, signed launch data."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    MenuButtonDefault,
    MenuButtonWebApp,
    ReplyKeyboardMarkup,
    WebAppInfo,
)
from telegram.error import BadRequest

from bot.fakebotapi import (
    DARK_THEME,
    LIGHT_THEME,
    FakeBotApi,
    FakeUser,
    ManualClock,
    launch_url,
    sign_init_data,
)

TOKEN = "123456:TEST"
APP = "https://app.example.org/app/"
NOW = 1_750_000_000
PARSE = "Bad Request: can't parse menu button: "


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN, wall_clock=ManualClock(NOW)) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def alice(server: FakeBotApi) -> FakeUser:
    user = server.user(1001, first_name="Alice", username="alice", language_code="pt-br")
    await user.send("/start")  # the chat exists for the bot from now on
    return user


def check_init_data(token: str, init_data: str) -> dict[str, str]:
    """The server-side check, written out independently of the fake."""
    fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=True))
    received = fields.pop("hash")
    data_check_string = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, data_check_string.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received, expected), "initData signature does not verify"
    return fields


def launch_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).fragment, strict_parsing=True))


# -- signing and the launch URL ---------------------------------------------------------------


def test_sign_init_data_matches_the_reference_vector() -> None:
    """The Telegram Mini Apps project's published example, byte for byte."""
    user = {
        "id": 279058397,
        "first_name": "Vladislav",
        "last_name": "Kibenko",
        "username": "vdkfrost",
        "language_code": "ru",
        "is_premium": True,
    }
    init_data = sign_init_data(
        "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8",
        user,
        auth_date=1662771648,
        query_id="AAHdF6IQAAAAAN0XohDhrOrc",
    )
    assert init_data == (
        "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
        "&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22"
        "%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22"
        "%2C%22is_premium%22%3Atrue%7D"
        "&auth_date=1662771648"
        "&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2"
    )


def test_user_json_as_telegram_writes_it_and_extra_fields_are_signed() -> None:
    user = {"id": 7, "first_name": "Zoë / ⚡", "photo_url": "https://t.me/i/userpic/320/x.svg"}
    init_data = sign_init_data(
        TOKEN, user, auth_date=NOW, extra={"chat_type": "sender", "start_param": "buy_tg"}
    )
    fields = check_init_data(TOKEN, init_data)
    assert fields["user"] == (
        '{"id":7,"first_name":"Zoë \\/ ⚡",'
        '"photo_url":"https:\\/\\/t.me\\/i\\/userpic\\/320\\/x.svg"}'
    )
    assert json.loads(fields["user"]) == user
    assert (fields["chat_type"], fields["start_param"], fields["auth_date"]) == (
        "sender",
        "buy_tg",
        str(NOW),
    )
    assert "query_id" not in fields
    with pytest.raises(AssertionError, match="does not verify"):
        check_init_data("654321:OTHER", init_data)


def test_launch_url_puts_the_launch_parameters_in_the_fragment() -> None:
    init_data = sign_init_data(TOKEN, {"id": 7, "first_name": "Z"}, auth_date=NOW)
    url = launch_url(APP + "?ref=menu#section", init_data, theme=DARK_THEME, platform="android")
    base, _, fragment = url.partition("#")
    assert base == APP + "?ref=menu"
    assert fragment.endswith("&section")
    params = launch_params(url.removesuffix("&section"))
    assert params["tgWebAppData"] == init_data  # decoded once: the raw initData string
    assert (params["tgWebAppVersion"], params["tgWebAppPlatform"]) == ("8.0", "android")
    assert json.loads(params["tgWebAppThemeParams"]) == DARK_THEME
    # initData is encoded once more inside the fragment, as Telegram does.
    assert "tgWebAppData=user%3D%257B" in fragment
    assert unquote(fragment.split("&")[0].removeprefix("tgWebAppData=")) == init_data


# -- menu buttons -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("menu_button", "description"),
    [
        ("[1]", "Bad Request: can't parse menu button: MenuButton must be an Object"),
        ("{oops", "Bad Request: can't parse menu button JSON object"),
        ("{}", "Bad Request: can't parse menu button: Can't find field \"type\""),
        (
            '{"type": 1}',
            'Bad Request: can\'t parse menu button: Field "type" must be of type String',
        ),
        (
            '{"type": "app"}',
            "Bad Request: can't parse menu button: MenuButton has unsupported type",
        ),
        (
            '{"type": "web_app", "web_app": {"url": "https://a.example/"}}',
            "Bad Request: can't parse menu button: Can't find field \"text\"",
        ),
        (
            '{"type": "web_app", "text": "Open"}',
            "Bad Request: can't parse menu button: Can't find field \"web_app\"",
        ),
        (
            '{"type": "web_app", "text": "Open", "web_app": {}}',
            "Bad Request: can't parse menu button: Can't find field \"url\"",
        ),
        (
            '{"type": "web_app", "text": " ", "web_app": {"url": "https://a.example/"}}',
            "Bad Request: BUTTON_TEXT_INVALID",
        ),
        (
            '{"type": "web_app", "text": "Open", "web_app": {"url": "http://a.example/"}}',
            "Bad Request: menu button Web App URL 'http://a.example/' is invalid: "
            "Only HTTPS links are allowed",
        ),
    ],
)
async def test_set_chat_menu_button_validation(
    server: FakeBotApi, menu_button: str, description: str
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.base_url}{TOKEN}/setChatMenuButton", data={"menu_button": menu_button}
        )
    assert (response.status_code, response.json()["description"]) == (400, description)


async def test_menu_buttons_per_chat_and_default(
    server: FakeBotApi, bot: Bot, alice: FakeUser
) -> None:
    assert await bot.get_chat_menu_button() == MenuButtonCommands()
    assert await bot.get_chat_menu_button(alice.id) == MenuButtonDefault()
    with pytest.raises(AssertionError, match="opens no Mini App"):
        alice.open_menu_app()

    default = MenuButtonWebApp("Shop", WebAppInfo(APP))
    assert await bot.set_chat_menu_button(menu_button=default)
    assert await bot.get_chat_menu_button() == default
    assert server.menu_button(alice.id) == default.to_dict()  # a chat falls back to the default

    own = MenuButtonWebApp("Orders", WebAppInfo("http://127.0.0.1:8080/app/orders"))
    assert await bot.set_chat_menu_button(alice.id, own)
    assert await bot.get_chat_menu_button(alice.id) == own
    assert await bot.get_chat_menu_button() == default

    url = alice.open_menu_app(theme=DARK_THEME)
    assert url.startswith("http://127.0.0.1:8080/app/orders#tgWebAppData=")
    fields = check_init_data(TOKEN, launch_params(url)["tgWebAppData"])
    assert json.loads(fields["user"]) == {
        "id": alice.id,
        "first_name": "Alice",
        "username": "alice",
        "language_code": "pt-br",
        "allows_write_to_pm": True,
    }
    assert fields["auth_date"] == str(NOW)
    assert fields["query_id"]

    assert await bot.set_chat_menu_button(alice.id, MenuButtonDefault())
    assert await bot.get_chat_menu_button(alice.id) == MenuButtonDefault()
    assert alice.open_menu_app().startswith(APP + "#")

    group = server.group(-1001234, "Buyers")  # menu buttons belong to users: ids > 0
    with pytest.raises(BadRequest, match="Invalid chat_id specified"):
        await bot.set_chat_menu_button(group.id, own)
    with pytest.raises(BadRequest, match="User not found"):
        await bot.get_chat_menu_button(999_999)


# -- web_app buttons --------------------------------------------------------------------------


async def test_inline_web_app_buttons_open_for_the_user(bot: Bot, alice: FakeUser) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Open shop", web_app=WebAppInfo(APP))],
            [InlineKeyboardButton("Back", callback_data="back")],
        ]
    )
    await bot.send_message(alice.id, "Shop:", reply_markup=keyboard)
    message = await alice.wait_for_message(lambda m: m.text == "Shop:")
    assert message.button("Open shop").kind == "web_app"
    url = alice.open_web_app(message, "Open shop")
    params = launch_params(url)
    assert json.loads(params["tgWebAppThemeParams"]) == LIGHT_THEME
    fields = check_init_data(TOKEN, params["tgWebAppData"])
    assert json.loads(fields["user"])["id"] == alice.id
    assert fields["query_id"]
    again = launch_params(alice.open_web_app(message, "Open shop"))
    second = check_init_data(TOKEN, again["tgWebAppData"])
    assert second["query_id"] != fields["query_id"]  # every launch has its own query
    with pytest.raises(AssertionError, match="opens no Mini App"):
        alice.open_web_app(message, "Back")
    with pytest.raises(AssertionError, match="no button 'Pay'"):
        alice.open_web_app(message, "Pay")


async def test_reply_keyboard_web_app_buttons_launch_without_query_id(
    bot: Bot, alice: FakeUser
) -> None:
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Catalogue", web_app=WebAppInfo(APP))]])
    await bot.send_message(alice.id, "Tap below", reply_markup=keyboard)
    message = await alice.wait_for_message(lambda m: m.text == "Tap below")
    fields = check_init_data(
        TOKEN, launch_params(alice.open_web_app(message, "Catalogue"))["tgWebAppData"]
    )
    assert "query_id" not in fields


@pytest.mark.parametrize(
    ("url", "description"),
    [
        (
            "http://app.example.org/",
            "Bad Request: inline keyboard button Web App URL 'http://app.example.org/' is "
            "invalid: Only HTTPS links are allowed",
        ),
        ("https://", "Bad Request: BUTTON_URL_INVALID"),
    ],
)
async def test_web_app_urls_must_be_https(
    server: FakeBotApi, alice: FakeUser, url: str, description: str
) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Open", "web_app": {"url": url}}]]}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.base_url}{TOKEN}/sendMessage",
            json={"chat_id": alice.id, "text": "x", "reply_markup": keyboard},
        )
    assert (response.status_code, response.json()["description"]) == (400, description)


async def test_web_app_buttons_only_in_private_chats(
    server: FakeBotApi, bot: Bot, alice: FakeUser
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Open", web_app=WebAppInfo(APP))]])
    group = server.group(-1001234, "Buyers")
    with pytest.raises(BadRequest, match="Button_type_invalid"):
        await bot.send_message(group.id, "Shop", reply_markup=keyboard)
    posted = await bot.send_message(group.id, "Shop")
    with pytest.raises(BadRequest, match="Button_type_invalid"):
        await bot.edit_message_reply_markup(group.id, posted.message_id, reply_markup=keyboard)
    local = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Open", web_app=WebAppInfo("http://localhost:8080/app/"))]]
    )
    assert await bot.send_message(alice.id, "Shop", reply_markup=local)
