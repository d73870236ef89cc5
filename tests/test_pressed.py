"""A pressed message's keyboard reaches the handlers unparsed (bot/pressed.py) and reads
back as what the bot sent, through getUpdates and through the webhook's parsing alike."""

from __future__ import annotations

import orjson
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot import pressed
from bot.fakebotapi import FakeBotApi
from bot.metrics import Metrics
from bot.telegram_request import SendingRequest, TelegramRequest

KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Telegram", callback_data="s:tg")],
        [InlineKeyboardButton("Site", url="https://jiema.my/")],
    ]
)
OTHER = InlineKeyboardMarkup([[InlineKeyboardButton("Telegram", callback_data="s:wa")]])


async def pressed_update(telegram: FakeBotApi) -> Update:
    """Alice presses a button of a message the bot sent; the update as the bot gets it."""
    alice = telegram.user(1001, first_name="Alice")
    alice.chat.started = True
    root = f"{telegram.root}/bot"
    sending = SendingRequest(Metrics(), connection_pool_size=2, timeout=5)
    updates = TelegramRequest(Metrics(), connection_pool_size=2, timeout=5)
    async with Bot("123456:TEST", base_url=root, request=sending) as bot:
        await bot.send_message(1001, "Pick one", reply_markup=KEYBOARD)
    alice.tap(alice.messages[-1], "s:tg")
    async with Bot("123456:TEST", base_url=root, get_updates_request=updates) as bot:
        (update,) = await bot.get_updates(timeout=1)
    return update


async def test_a_pressed_keyboard_is_parsed_only_when_read(telegram: FakeBotApi) -> None:
    update = await pressed_update(telegram)
    assert update.callback_query is not None
    message = update.callback_query.message
    assert isinstance(message, Message)
    assert message.reply_markup is None  # PTB built no button
    assert pressed.keyboard(message) == KEYBOARD
    assert pressed.shows(message, KEYBOARD)
    assert not pressed.shows(message, OTHER)
    assert not pressed.shows(message, None)


async def test_the_webhooks_json_is_deferred_the_same_way(telegram: FakeBotApi) -> None:
    """``defer_keyboard`` on an update's JSON, as the webhook calls it; and an update
    parsed in full (a test's, say) reads the same."""
    got = await pressed_update(telegram)
    data = got.to_dict()
    assert "jiemabot_reply_markup" in data["callback_query"]["message"]  # deferred, kept
    message = data["callback_query"]["message"]
    message["reply_markup"] = message.pop("jiemabot_reply_markup")  # the JSON as it came
    full = Update.de_json(orjson.loads(orjson.dumps(data)), got.get_bot())
    pressed.defer_keyboard(data)
    deferred = Update.de_json(data, got.get_bot())
    for update in (full, deferred):
        assert update.callback_query is not None
        message = update.callback_query.message
        assert pressed.keyboard(message) == KEYBOARD
        assert pressed.shows(message, KEYBOARD)
        assert not pressed.shows(message, OTHER)
    assert full.callback_query is not None
    assert isinstance(full.callback_query.message, Message)
    assert full.callback_query.message.reply_markup == KEYBOARD
