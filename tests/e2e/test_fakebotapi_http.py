"""Protocol-level tests of the fake Bot API: raw HTTP calls, as any client would make them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser, FloodLimits, ManualClock

TOKEN = "123456:TEST"
TOO_LONG = "Bad Request: reply markup is too long"
BAD_LANGUAGE = "Bad Request: invalid language code specified"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class BotClient:
    """Calls the fake as a bot would; JSON bodies unless told otherwise."""

    def __init__(self, server: FakeBotApi, http: httpx.AsyncClient) -> None:
        self.server = server
        self.http = http

    async def raw(self, method: str, token: str = TOKEN, **params: Any) -> httpx.Response:
        return await self.http.post(f"{self.server.root}/bot{token}/{method}", json=params)

    async def ok(self, method: str, **params: Any) -> Any:
        response = await self.raw(method, **params)
        body = response.json()
        assert response.status_code == 200, body
        assert body["ok"], body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        response = await self.raw(method, **params)
        body = response.json()
        assert not body["ok"], body
        assert response.status_code == body["error_code"], body
        return body["error_code"], body["description"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def wall_clock() -> ManualClock:
    return ManualClock(1_750_000_000.0)


@pytest.fixture
async def server(clock: ManualClock, wall_clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(
        token=TOKEN, bot_username="jiema_test_bot", clock=clock, wall_clock=wall_clock
    ) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[BotClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield BotClient(server, http)


@pytest.fixture
async def alice(server: FakeBotApi) -> FakeUser:
    user = server.user(1001, first_name="Alice", language_code="en")
    await user.send("/start")
    return user


async def keyboard_message(bot: BotClient, alice: FakeUser) -> ChatMessage:
    result = await bot.ok(
        "sendMessage",
        chat_id=alice.id,
        text="Pick one",
        reply_markup={"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]},
    )
    message = alice.chat.get(result["message_id"])
    assert message is not None
    return message


# -- transport ---------------------------------------------------------------------------------


async def test_wrong_token_and_unknown_method(server: FakeBotApi, bot: BotClient) -> None:
    response = await bot.raw("getMe", token="654321:WRONG")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert await bot.error("sendPoll") == (404, "Not Found")
    assert (await bot.ok("GETME"))["username"] == "jiema_test_bot"
    assert [(r.method, r.status) for r in server.errors] == [("getMe", 401), ("sendPoll", 404)]


async def test_parameters_in_any_transport(bot: BotClient, alice: FakeUser) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    url = f"{bot.server.root}/bot{TOKEN}/sendMessage"
    form = {"chat_id": "1001", "text": "<b>hi</b>", "parse_mode": "HTML"}
    responses = [
        await bot.http.post(url, json={**form, "chat_id": 1001, "reply_markup": markup}),
        await bot.http.post(url, data={**form, "reply_markup": json.dumps(markup)}),
        await bot.http.post(
            url,
            data=form,
            files={"reply_markup": (None, json.dumps(markup)), "extra": ("a.txt", b"abc")},
        ),
        await bot.http.get(url, params={**form, "reply_markup": json.dumps(markup)}),
    ]
    for response in responses:
        result = response.json()["result"]
        assert result["text"] == "hi"
        assert result["entities"] == [{"offset": 0, "length": 2, "type": "bold"}]
        assert result["reply_markup"] == markup
        assert result["from"]["is_bot"] is True
        assert result["chat"] == {"id": 1001, "first_name": "Alice", "type": "private"}
        assert isinstance(result["date"], int)
    assert bot.server.calls("sendMessage")[2].params["extra"] == "<file 'a.txt', 3 bytes>"


async def test_a_bug_in_the_fake_is_a_loud_500(server: FakeBotApi, bot: BotClient) -> None:
    async def broken(params: object) -> None:
        raise KeyError("oops")

    server._methods.handlers["getMe"] = broken
    code, description = await bot.error("getMe")
    assert (code, description) == (500, "Internal Server Error: fake Bot API bug: KeyError('oops')")
    assert server.errors[-1].status == 500


# -- updates -----------------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    server: FakeBotApi, bot: BotClient
) -> None:
    poll = asyncio.create_task(bot.ok("getUpdates", timeout=30))
    await server.wait_for_poll()
    bob = server.user(1002, first_name="Bob")
    message = await bob.send("/start payload")
    updates = await asyncio.wait_for(poll, 5)
    assert updates == [{"update_id": 1, "message": message.to_api()}]
    entity = {"offset": 0, "length": 6, "type": "bot_command"}
    assert updates[0]["message"]["entities"] == [entity]
    assert await bot.ok("getUpdates", offset=1) == updates  # not confirmed yet
    assert await bot.ok("getUpdates", offset=2) == []
    assert server.pending_updates == 0


async def test_long_poll_times_out_empty(bot: BotClient) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.ok("getUpdates", timeout=1) == []
    assert 0.9 <= loop.time() - started < 3


async def test_offset_limit_and_negative_offset(server: FakeBotApi, bot: BotClient) -> None:
    carol = server.user(1003, first_name="Carol")
    for text in ("one", "two", "three"):
        await carol.send(text)
    texts = [u["message"]["text"] for u in await bot.ok("getUpdates", limit=2)]
    assert texts == ["one", "two"]
    assert [u["update_id"] for u in await bot.ok("getUpdates", offset=-1)] == [3]
    assert server.pending_updates == 1


async def test_allowed_updates_filter_later_updates(
    server: FakeBotApi, bot: BotClient, alice: FakeUser
) -> None:
    message = await keyboard_message(bot, alice)
    await bot.ok("getUpdates", allowed_updates=["message"])
    with pytest.raises(AssertionError, match="does not receive callback_query updates"):
        await alice.press(message, "Buy", timeout=0.1)
    await bot.ok("getUpdates", allowed_updates=[])  # back to the default set
    alice.block()
    kinds = [next(k for k in u if k != "update_id") for u in await bot.ok("getUpdates")]
    assert kinds == ["message", "my_chat_member"]


async def test_newer_poll_ends_the_older_with_conflict(server: FakeBotApi, bot: BotClient) -> None:
    first = asyncio.create_task(bot.raw("getUpdates", timeout=30))
    await server.wait_for_poll()
    assert await bot.ok("getUpdates") == []
    response = await asyncio.wait_for(first, 5)
    assert response.status_code == 409
    assert response.json()["description"] == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )


async def test_stop_ends_a_pending_long_poll_at_once(server: FakeBotApi, bot: BotClient) -> None:
    poll = asyncio.create_task(bot.ok("getUpdates", timeout=30))
    await server.wait_for_poll()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await server.stop()
    assert await asyncio.wait_for(poll, 5) == []
    assert loop.time() - started < 2


# -- sending -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": ""}, "Bad Request: message text is empty"),
        ({"text": " \n "}, "Bad Request: message text is empty"),
        ({"text": "<b></b>", "parse_mode": "HTML"}, "Bad Request: message text is empty"),
        ({"text": "x" * 4097}, "Bad Request: message is too long"),
        (
            {"text": "<b>" + "x" * 4097 + "</b>", "parse_mode": "HTML"},
            "Bad Request: message is too long",
        ),
        (
            {"text": "<div>x</div>", "parse_mode": "html"},
            'Bad Request: can\'t parse entities: Unsupported start tag "div" at byte offset 0',
        ),
        ({"text": "x", "parse_mode": "bbcode"}, "Bad Request: unsupported parse_mode"),
        ({"text": "x", "chat_id": ""}, "Bad Request: chat_id is empty"),
        ({"text": "x", "chat_id": 42}, "Bad Request: chat not found"),
        ({"text": "x", "chat_id": "@nobody"}, "Bad Request: chat not found"),
        (
            {"text": "x", "reply_parameters": {"message_id": 99}},
            "Bad Request: message to be replied not found",
        ),
    ],
)
async def test_send_message_validation(
    bot: BotClient, alice: FakeUser, params: dict[str, Any], description: str
) -> None:
    assert await bot.error("sendMessage", **{"chat_id": alice.id, **params}) == (400, description)


async def test_text_limits_are_counted_after_parsing(bot: BotClient, alice: FakeUser) -> None:
    result = await bot.ok(
        "sendMessage", chat_id=alice.id, text=f"<b>{'😀' * 4096}</b>", parse_mode="HTML"
    )
    assert result["entities"] == [{"offset": 0, "length": 8192, "type": "bold"}]
    reply = await bot.ok(
        "sendMessage", chat_id=alice.id, text="  re  ", reply_parameters={"message_id": 1}
    )
    assert reply["text"] == "re"
    assert reply["reply_to_message"]["text"] == "/start"
    lenient = {"message_id": 99, "allow_sending_without_reply": True}
    assert "reply_to_message" not in await bot.ok(
        "sendMessage", chat_id=alice.id, text="x", reply_parameters=lenient
    )


def button_rows(*rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"inline_keyboard": list(rows)}


CALLBACK = {"text": "b", "callback_data": "d"}
INLINE = "Bad Request: can't parse inline keyboard button: "


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        ("{not json", "Bad Request: can't parse reply keyboard markup JSON object"),
        ("[]", "Bad Request: object expected as reply markup"),
        (
            button_rows([{"text": "b", "callback_data": "x" * 65}]),
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            button_rows([{"text": "b", "callback_data": "é" * 33}]),
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            button_rows([{"text": "b", "callback_data": ""}]),
            INLINE + "Text buttons are unallowed in the inline keyboard",
        ),
        (button_rows([{"callback_data": "d"}]), INLINE + 'Can\'t find field "text"'),
        (button_rows([CALLBACK] * 9), TOO_LONG),
        (button_rows(*[[CALLBACK] * 8] * 12, [CALLBACK] * 5), TOO_LONG),
        (
            button_rows([{"text": "b", "url": "javascript:alert(1)"}]),
            "Bad Request: BUTTON_URL_INVALID",
        ),
        (button_rows([{"text": "", "callback_data": "d"}]), "Bad Request: BUTTON_TEXT_INVALID"),
    ],
)
async def test_reply_markup_validation(
    bot: BotClient, alice: FakeUser, markup: Any, description: str
) -> None:
    raw = markup if isinstance(markup, str) else json.dumps(markup)
    error = await bot.error("sendMessage", chat_id=alice.id, text="x", reply_markup=raw)
    assert error == (400, description)


@pytest.mark.parametrize(
    "button",
    [
        {"text": "b", "callback_data": "d", "url": "https://example.com"},
        {"text": "b", "copy_text": {"text": "x" * 257}},
        {"text": "b", "pay": True},
    ],
)
async def test_stricter_than_telegram_buttons(
    bot: BotClient, alice: FakeUser, button: dict
) -> None:
    code, description = await bot.error(
        "sendMessage", chat_id=alice.id, text="x", reply_markup=button_rows([button])
    )
    assert code == 400
    assert description.startswith(INLINE)


async def test_valid_keyboards(bot: BotClient, alice: FakeUser) -> None:
    markup = button_rows(
        [
            {"text": "b", "callback_data": "é" * 32},
            {"text": "copy", "copy_text": {"text": "48213"}},
        ],
        [{"text": "site", "url": "https://jiema.my"}],
        *[[CALLBACK] * 8] * 11,
    )
    result = await bot.ok("sendMessage", chat_id=alice.id, text="x", reply_markup=markup)
    assert result["reply_markup"]["inline_keyboard"][1] == [
        {"text": "site", "url": "https://jiema.my/"}
    ]
    message = alice.chat.get(result["message_id"])
    assert message is not None
    assert message.buttons[0] == [("b", "é" * 32), ("copy", "48213")]
    assert message.button("copy").kind == "copy_text"
    with pytest.raises(AssertionError, match="no inline button"):
        message.button("Sell")
    keyboard = {"keyboard": [["Yes", {"text": "No"}]], "resize_keyboard": True}
    await bot.ok("sendMessage", chat_id=alice.id, text="?", reply_markup=keyboard)
    assert alice.chat.reply_keyboard == {
        "keyboard": [[{"text": "Yes"}, {"text": "No"}]],
        "resize_keyboard": True,
    }
    await bot.ok("sendMessage", chat_id=alice.id, text="ok", reply_markup={"remove_keyboard": True})
    assert alice.chat.reply_keyboard is None


async def test_reachability(server: FakeBotApi, bot: BotClient, alice: FakeUser) -> None:
    server.user(1002, first_name="Bob")
    forbidden = "Forbidden: bot can't initiate conversation with a user"
    assert await bot.error("sendMessage", chat_id=1002, text="hi") == (403, forbidden)
    sent = await bot.ok("sendMessage", chat_id=alice.id, text="before")
    before = {"chat_id": alice.id, "message_id": sent["message_id"]}
    alice.block()
    blocked = (403, "Forbidden: bot was blocked by the user")
    assert await bot.error("sendMessage", chat_id=alice.id, text="hi") == blocked
    assert await bot.error("sendChatAction", chat_id=alice.id, action="typing") == blocked
    await bot.ok("editMessageText", **before, text="edits still reach a blocked user")
    with pytest.raises(AssertionError, match="blocked the bot"):
        await alice.send("hello?")
    alice.unblock()
    await bot.ok("sendChatAction", chat_id=alice.id, action="typing")
    assert alice.chat.actions == ["typing"]
    wrong = (400, "Bad Request: wrong parameter action in request")
    assert await bot.error("sendChatAction", chat_id=alice.id, action="dancing") == wrong
    alice.deactivate()
    gone = (403, "Forbidden: user is deactivated")
    assert await bot.error("sendMessage", chat_id=alice.id, text="hi") == gone


# -- flood control -----------------------------------------------------------------------------


async def test_flood_control_per_chat_and_overall(clock: ManualClock) -> None:
    limits = FloodLimits(private_burst=2, private_rate=1, global_burst=3, global_rate=3)
    async with (
        FakeBotApi(token=TOKEN, bot_username="b_bot", flood=limits, clock=clock) as server,
        httpx.AsyncClient() as http,
    ):
        bot = BotClient(server, http)
        users = [server.user(uid, first_name=f"U{uid}") for uid in (1001, 1002)]
        for user in users:
            await user.send("/start")
        await bot.ok("sendMessage", chat_id=1001, text="1")
        await bot.ok("sendMessage", chat_id=1001, text="2")
        response = await bot.raw("sendMessage", chat_id=1001, text="3")
        assert response.status_code == 429
        assert response.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        await bot.ok("sendMessage", chat_id=1002, text="other chat")  # 3rd overall
        assert (await bot.raw("sendMessage", chat_id=1002, text="x")).status_code == 429
        clock.advance(1)
        result = await bot.ok("sendMessage", chat_id=1001, text="3")
        edit = {"chat_id": 1001, "message_id": result["message_id"], "text": "3!"}
        assert (await bot.raw("editMessageText", **edit)).status_code == 429  # edits count
        assert [r.status for r in server.errors] == [429, 429, 429]


async def test_group_flood_limit_is_twenty_a_minute(
    server: FakeBotApi, bot: BotClient, clock: ManualClock
) -> None:
    group = server.group(-100123, title="Friends")
    for n in range(20):
        await bot.ok("sendMessage", chat_id=group.id, text=str(n))
        clock.advance(0.1)
    code, description = await bot.error("sendMessage", chat_id=group.id, text="21")
    assert (code, description) == (429, "Too Many Requests: retry after 1")
    clock.advance(3)
    await bot.ok("sendMessage", chat_id=group.id, text="21")


# -- editing, deleting, callbacks --------------------------------------------------------------


async def test_editing(bot: BotClient, alice: FakeUser, wall_clock: ManualClock) -> None:
    message = await keyboard_message(bot, alice)
    ids = {"chat_id": alice.id, "message_id": message.message_id}
    same = {
        "text": "Pick one",
        "reply_markup": {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]},
    }
    assert await bot.error("editMessageText", **ids, **same) == (400, NOT_MODIFIED)
    wall_clock.advance(5)
    result = await bot.ok("editMessageText", **ids, text="<i>Done</i>", parse_mode="HTML")
    assert "reply_markup" not in result  # omitted markup removes the keyboard
    assert result["edit_date"] == result["date"] + 5
    assert (message.text, message.html, message.edited, message.buttons) == (
        "Done",
        "<i>Done</i>",
        1,
        [],
    )
    assert await bot.error("editMessageReplyMarkup", **ids) == (400, NOT_MODIFIED)
    await bot.ok("editMessageReplyMarkup", **ids, reply_markup=same["reply_markup"])
    assert message.buttons == [[("Buy", "buy")]]
    missing = (400, "Bad Request: message to edit not found")
    assert await bot.error("editMessageText", chat_id=alice.id, message_id=99, text="x") == missing
    not_editable = (400, "Bad Request: message can't be edited")
    assert (
        await bot.error("editMessageText", chat_id=alice.id, message_id=1, text="x") == not_editable
    )


async def test_deleting(
    server: FakeBotApi, bot: BotClient, alice: FakeUser, wall_clock: ManualClock
) -> None:
    message = await keyboard_message(bot, alice)
    await bot.ok("deleteMessage", chat_id=alice.id, message_id=message.message_id)
    assert message.deleted
    gone = (400, "Bad Request: message to delete not found")
    assert await bot.error("deleteMessage", chat_id=alice.id, message_id=message.message_id) == gone
    await bot.ok("deleteMessage", chat_id=alice.id, message_id=1)  # incoming, private chat
    group = server.group(-100123, title="Friends")
    in_group = await alice.send("hi all", chat=group)
    cant = (400, "Bad Request: message can't be deleted")
    assert (
        await bot.error("deleteMessage", chat_id=group.id, message_id=in_group.message_id) == cant
    )
    old = await alice.send("old news")
    wall_clock.advance(48 * 3600)
    too_old = (400, "Bad Request: message can't be deleted for everyone")
    assert await bot.error("deleteMessage", chat_id=alice.id, message_id=old.message_id) == too_old
    assert [m.deleted for m in alice.messages] == [True, True, False]


async def test_callback_queries(bot: BotClient, alice: FakeUser, clock: ManualClock) -> None:
    message = await keyboard_message(bot, alice)

    async def answer_next(**params: Any) -> tuple[int, str] | bool:
        updates = await bot.ok("getUpdates", timeout=5)
        query = updates[-1]["callback_query"]
        assert query["data"] == "buy"
        assert query["message"]["message_id"] == message.message_id
        assert query["from"]["id"] == alice.id
        assert query["chat_instance"]
        await bot.ok("getUpdates", offset=updates[-1]["update_id"] + 1)
        if params.pop("expire", False):
            clock.advance(16)
        if "text" in params and len(params["text"]) > 200:
            return await bot.error("answerCallbackQuery", callback_query_id=query["id"], **params)
        return await bot.ok("answerCallbackQuery", callback_query_id=query["id"], **params)

    press = asyncio.create_task(alice.press(message, "Buy", timeout=5))
    assert await answer_next(text="Bought!", show_alert=True) is True
    answer = await press
    assert (answer.text, answer.show_alert) == ("Bought!", True)
    too_old = (
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    queries = list(bot.server.world.callback_queries)
    assert await bot.error("answerCallbackQuery", callback_query_id=queries[0]) == too_old
    assert await bot.error("answerCallbackQuery", callback_query_id="123") == too_old

    press = asyncio.create_task(alice.press(message, data="buy", timeout=0.5))
    assert await answer_next(text="x" * 201) == (400, "Bad Request: MESSAGE_TOO_LONG")
    with pytest.raises(AssertionError, match="spinner keeps turning"):
        await press
    press = asyncio.create_task(alice.press(message, "Buy", timeout=0.5))
    with pytest.raises(AssertionError, match="query is too old"):
        await answer_next(expire=True)
    with pytest.raises(AssertionError, match="did not answer the callback query"):
        await press


# -- commands, chats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"commands": [{"command": "Start", "description": "x"}]},
            "Bad Request: BOT_COMMAND_INVALID",
        ),
        (
            {"commands": [{"command": "x" * 33, "description": "x"}]},
            "Bad Request: BOT_COMMAND_INVALID",
        ),
        (
            {"commands": [{"command": "start", "description": ""}]},
            "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID",
        ),
        (
            {"commands": [{"command": "start", "description": "x" * 257}]},
            "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID",
        ),
        (
            {"commands": [{"command": f"c{n}", "description": "x"} for n in range(101)]},
            "Bad Request: BOT_COMMANDS_TOO_MUCH",
        ),
        ({"commands": [], "language_code": "english"}, BAD_LANGUAGE),
        ({"commands": [], "language_code": "fil"}, BAD_LANGUAGE),
    ],
)
async def test_set_my_commands_validation(
    bot: BotClient, params: dict[str, Any], description: str
) -> None:
    assert await bot.error("setMyCommands", **params) == (400, description)


async def test_commands_per_scope_and_language(
    server: FakeBotApi, bot: BotClient, alice: FakeUser
) -> None:
    english = [
        {"command": "start", "description": "Start"},
        {"command": "buy", "description": "Buy a number"},
    ]
    russian = [{"command": "start", "description": "Начать"}]
    private = {"type": "all_private_chats"}
    await bot.ok("setMyCommands", commands=english)
    await bot.ok("setMyCommands", commands=russian, language_code="ru", scope=private)
    assert await bot.ok("getMyCommands") == english
    assert await bot.ok("getMyCommands", language_code="ru") == []
    assert await bot.ok("getMyCommands", language_code="ru", scope=private) == russian
    assert server.commands(private, "ru") == russian
    await bot.ok("deleteMyCommands")
    assert server.commands() == []
    await bot.ok("setChatMenuButton", chat_id=alice.id, menu_button={"type": "commands"})
    assert await bot.ok("getChatMenuButton", chat_id=alice.id) == {"type": "commands"}
    chat = await bot.ok("getChat", chat_id=alice.id)
    assert (chat["id"], chat["type"], chat["first_name"]) == (1001, "private", "Alice")


async def test_user_actor_reports_the_transcript(
    server: FakeBotApi, bot: BotClient, alice: FakeUser
) -> None:
    await bot.error("sendMessage", chat_id=alice.id, text="<p>hi</p>", parse_mode="HTML")
    with pytest.raises(AssertionError) as caught:
        await alice.wait_for_message(lambda m: "Welcome" in m.text, timeout=0.05)
    report = str(caught.value)
    assert "#1 Alice: '/start'" in report
    assert 'Unsupported start tag "p"' in report
    reply = await bot.ok("sendMessage", chat_id=alice.id, text="Welcome!")
    assert (await alice.wait_for_message(timeout=1)).message_id == reply["message_id"]
    await alice.send("again")
    with pytest.raises(AssertionError):
        await alice.wait_for_message(timeout=0.05)  # "Welcome!" came before the last action
    assert (await alice.wait_for(lambda m: m.text == "Welcome!", timeout=0.05)).message_id == 2
    url = await bot.ok(
        "sendMessage",
        chat_id=alice.id,
        text="Site",
        reply_markup={"inline_keyboard": [[{"text": "Open", "url": "https://jiema.my"}]]},
    )
    site = alice.chat.get(url["message_id"])
    assert site is not None
    with pytest.raises(AssertionError, match="url button"):
        await alice.press(site, "Open")


async def test_group_and_media_updates(server: FakeBotApi, bot: BotClient, alice: FakeUser) -> None:
    group = server.group(-100123, title="Friends")
    await alice.send("/start@jiema_test_bot", chat=group)
    await alice.send_sticker()
    await alice.send_photo(caption="my passport")
    edited = await alice.edit(alice.messages[0], "/help")
    updates = await bot.ok("getUpdates")
    group_message = updates[1]["message"]
    assert group_message["chat"] == {"id": -100123, "title": "Friends", "type": "supergroup"}
    assert group_message["entities"] == [{"offset": 0, "length": 21, "type": "bot_command"}]
    assert updates[2]["message"]["sticker"]["type"] == "regular"
    assert updates[3]["message"]["caption"] == "my passport"
    assert "text" not in updates[3]["message"]
    assert updates[4]["edited_message"]["text"] == "/help"
    assert updates[4]["edited_message"]["edit_date"] == edited.edit_date
