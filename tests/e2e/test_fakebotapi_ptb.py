"""The fake, proven with python-telegram-bot itself: a real ``Application`` polls it."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.fakebotapi import (
    FakeBotApi,
    FloodLimits,
    ManualClock,
    application_builder,
    polling,
)

TOKEN = "123456:TEST"
WELCOME_KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Buy", callback_data="buy:1"),
            InlineKeyboardButton("Help", callback_data="help"),
        ],
        [InlineKeyboardButton("Copy code", copy_text=CopyTextButton("48213"))],
    ]
)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None
    assert update.effective_message is not None
    name = html.escape(update.effective_user.first_name)
    await update.effective_message.reply_text(
        f"<b>Welcome</b>, {name}! Tap a button.",
        parse_mode=ParseMode.HTML,
        reply_markup=WELCOME_KEYBOARD,
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    if query.data == "help":
        await query.answer("Use /buy to order a number", show_alert=True)
        return
    await query.answer("Bought!")
    await query.edit_message_text("<i>Order placed</i> ✅", parse_mode=ParseMode.HTML)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    assert message is not None
    if message.text == "delete me":
        await message.delete()
        await message.chat.send_message("Deleted your message", disable_notification=True)
    else:
        await message.reply_text(f"You said: {message.text}")


async def on_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.edited_message is not None
    await update.edited_message.reply_text(f"You edited: {update.edited_message.text}")


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    assert message is not None
    kind = "sticker" if message.sticker else f"photo ({message.caption})"
    await message.reply_text(f"Nice {kind}")


def build_bot(server: FakeBotApi, **builder: Any) -> Application[Any, Any, Any, Any, Any, Any]:
    """The demo bot; ``context.bot_data["member"]`` collects my_chat_member statuses."""
    app_builder = application_builder(server)
    if "rate_limiter" in builder:
        app_builder = app_builder.rate_limiter(builder["rate_limiter"])
    app = app_builder.build()
    statuses: asyncio.Queue[str] = asyncio.Queue()
    app.bot_data["member"] = statuses

    async def on_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.my_chat_member is not None
        await statuses.put(update.my_chat_member.new_chat_member.status)

    app.add_handlers(
        [
            CommandHandler("start", start),
            CallbackQueryHandler(on_button),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT, on_edit),
            MessageHandler(filters.TEXT & ~filters.COMMAND, on_text),
            MessageHandler(filters.Sticker.ALL | filters.PHOTO, on_media),
            ChatMemberHandler(on_member, ChatMemberHandler.MY_CHAT_MEMBER),
        ]
    )
    return app


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN, bot_username="jiema_test_bot") as fake:
        yield fake


async def test_journey_commands_buttons_edits_and_deletes(server: FakeBotApi) -> None:
    app = build_bot(server, rate_limiter=AIORateLimiter())
    async with polling(app):
        alice = server.user(1001, first_name="Alice", language_code="en")
        await alice.send("/start")
        welcome = await alice.wait_for_message(lambda m: "Welcome" in m.text)
        assert welcome.text == "Welcome, Alice! Tap a button."
        assert welcome.html == "<b>Welcome</b>, Alice! Tap a button."
        assert welcome.entity_texts("bold") == ["Welcome"]
        assert welcome.buttons == [[("Buy", "buy:1"), ("Help", "help")], [("Copy code", "48213")]]

        help_answer = await alice.press(welcome, "Help")
        assert (help_answer.text, help_answer.show_alert) == ("Use /buy to order a number", True)
        answer = await alice.press(welcome, data="buy:1")
        assert answer.text == "Bought!"
        placed = await alice.wait_for(lambda m: m.text == "Order placed ✅")
        assert placed is welcome
        assert (placed.edited, placed.buttons, placed.entity_texts("italic")) == (
            1,
            [],
            ["Order placed"],
        )

        doomed = await alice.send("delete me")
        notice = await alice.wait_for_message(lambda m: m.text == "Deleted your message")
        assert doomed.deleted
        assert notice.disable_notification

        said = await alice.send("hello")
        await alice.wait_for_message(lambda m: m.text == "You said: hello")
        await alice.edit(said, "hello again")
        await alice.wait_for_message(lambda m: m.text == "You edited: hello again")
        await alice.send_sticker()
        await alice.wait_for_message(lambda m: m.text == "Nice sticker")
        await alice.send_photo(caption="passport")
        await alice.wait_for_message(lambda m: m.text == "Nice photo (passport)")

        alice.block()
        statuses = app.bot_data["member"]
        assert await asyncio.wait_for(statuses.get(), 5) == "kicked"
        alice.unblock()
        assert await asyncio.wait_for(statuses.get(), 5) == "member"

        group = server.group(-100123, title="Friends")
        await alice.send("/start@jiema_test_bot", chat=group)
        in_group = await alice.wait_for_message(lambda m: "Welcome" in m.text, chat=group)
        assert in_group.reply_to is not None
    server.assert_no_errors()
    assert len(server.calls("answerCallbackQuery")) == 2


async def test_bad_requests_surface_as_ptb_errors(server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    await alice.send("/start")
    async with build_bot(server) as app:
        bot = app.bot
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(alice.id, "<div>hi</div>", parse_mode=ParseMode.HTML)
        assert caught.value.message == (
            'Can\'t parse entities: unsupported start tag "div" at byte offset 0'
        )
        assert server.errors[-1].description == (
            'Bad Request: can\'t parse entities: Unsupported start tag "div" at byte offset 0'
        )
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(alice.id, "x" * 4097)
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="x" * 65)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(alice.id, "x", reply_markup=too_long)

        sent = await bot.send_message(alice.id, "Pick", reply_markup=WELCOME_KEYBOARD)
        assert sent.reply_markup == WELCOME_KEYBOARD
        with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
            await sent.edit_text("Pick", reply_markup=WELCOME_KEYBOARD)
        edited = await sent.edit_text("Picked")
        assert isinstance(edited, type(sent))
        assert edited.reply_markup is None
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", chat_id=alice.id, message_id=999)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(alice.id, 999)
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(424242, "x")

        alice.block()
        with pytest.raises(Forbidden) as blocked:
            await bot.send_message(alice.id, "still there?")
        assert blocked.value.message == "Forbidden: bot was blocked by the user"
    assert len(server.errors) == 8


# PTB itself reads RetryAfter.retry_after, which warns about its coming type change.
@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_raises_retry_after() -> None:
    clock = ManualClock()
    limits = FloodLimits(private_burst=2)
    async with FakeBotApi(token=TOKEN, bot_username="b_bot", flood=limits, clock=clock) as server:
        alice = server.user(1001, first_name="Alice")
        await alice.send("/start")
        async with build_bot(server) as app:
            for n in range(2):
                await app.bot.send_message(alice.id, f"message {n}")
            with pytest.raises(RetryAfter) as caught:
                await app.bot.send_message(alice.id, "one too many")
            assert "Retry in 1 seconds" in str(caught.value)
            clock.advance(1)
            await app.bot.send_message(alice.id, "after waiting")


@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
async def test_aio_rate_limiter_waits_out_retry_after() -> None:
    limits = FloodLimits(private_burst=2, private_rate=2)
    async with FakeBotApi(token=TOKEN, bot_username="b_bot", flood=limits) as server:
        alice = server.user(1001, first_name="Alice")
        await alice.send("/start")
        async with build_bot(server, rate_limiter=AIORateLimiter(max_retries=1)) as app:
            for n in range(3):
                await app.bot.send_message(alice.id, f"message {n}")
        assert [m.text for m in alice.messages[1:]] == ["message 0", "message 1", "message 2"]
        assert [r.status for r in server.errors] == [429]


async def test_set_my_commands_with_language_code(server: FakeBotApi) -> None:
    async with build_bot(server) as app:
        bot = app.bot
        scope = BotCommandScopeAllPrivateChats()
        await bot.set_my_commands([BotCommand("start", "Start")])
        await bot.set_my_commands(
            [BotCommand("start", "Начать"), BotCommand("buy", "Купить номер")],
            scope=scope,
            language_code="ru",
        )
        russian = await bot.get_my_commands(scope=scope, language_code="ru")
        assert [(c.command, c.description) for c in russian] == [
            ("start", "Начать"),
            ("buy", "Купить номер"),
        ]
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        assert server.commands({"type": "all_private_chats"}, "ru")[1]["command"] == "buy"
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Start", "Start")])
        await bot.delete_my_commands(scope=scope, language_code="ru")
        assert await bot.get_my_commands(scope=scope, language_code="ru") == ()


async def test_long_polling_ends_promptly_on_shutdown(server: FakeBotApi) -> None:
    app = build_bot(server)
    loop = asyncio.get_running_loop()
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=30)
        await app.start()
        await server.wait_for_poll()
        started = loop.time()
        await app.updater.stop()
        await app.stop()
    assert loop.time() - started < 2
    cleanup = [call for call in server.calls("getUpdates") if call.ok][-1]
    assert cleanup.params["timeout"] == "0"  # PTB's last call confirms what it fetched
    server.assert_no_errors()
