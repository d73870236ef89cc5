"""The bot's request back end for PTB parses answers as PTB's own would."""

from __future__ import annotations

import pytest
from telegram import Bot, Message
from telegram.error import BadRequest, TelegramError
from telegram.request import BaseRequest

from bot.fakebotapi import FakeBotApi
from bot.metrics import Metrics
from bot.telegram_request import SendingRequest, TelegramRequest


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ok": true, "result": {"message_id": 7, "text": "caf\xc3\xa9 \xf0\x9f\x94\x91"}}',
        b'{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}',
        b'{"ok": true, "result": "bad byte \xff here"}',  # invalid UTF-8: replaced, as PTB does
    ],
)
def test_answers_parse_as_with_ptb(payload: bytes) -> None:
    assert TelegramRequest.parse_json_payload(payload) == BaseRequest.parse_json_payload(payload)


def test_what_is_not_json_is_ptbs_error() -> None:
    with pytest.raises(TelegramError, match="Invalid server response"):
        TelegramRequest.parse_json_payload(b"<html>502 Bad Gateway</html>")


SENT = (
    b'{"ok": true, "result": {"message_id": 7, "date": 0, "chat": {"id": 1, "type": "private"},'
    b' "text": "Pick a service", "reply_markup": {"inline_keyboard": [[{"text": "Telegram",'
    b' "callback_data": "s:tg"}]]}}}'
)


def test_the_sending_request_keeps_only_the_ids_of_a_message_it_sent() -> None:
    """The answer to a send carries back the text and keyboard just built: not parsed again."""
    assert SendingRequest.parse_json_payload(SENT)["result"] == {
        "message_id": 7,
        "date": 0,
        "chat": {"id": 1, "type": "private"},
    }
    me = b'{"ok": true, "result": {"id": 5, "is_bot": true, "first_name": "Jiema"}}'
    assert SendingRequest.parse_json_payload(me) == TelegramRequest.parse_json_payload(me)
    assert SendingRequest.parse_json_payload(b'{"ok": true, "result": true}')["result"] is True
    assert SendingRequest.parse_json_payload(b"[1, 2]") == [1, 2]  # as PTB's: not an object


async def test_a_message_sent_through_the_sending_request_is_still_a_message() -> None:
    """PTB builds its ``Message`` from what is kept."""
    message = Message.de_json(SendingRequest.parse_json_payload(SENT)["result"], Bot("1:a"))
    assert (message.message_id, message.chat.id, message.text) == (7, 1, None)


async def test_an_edit_through_the_sending_request_is_done_without_a_message_back(
    telegram: FakeBotApi,
) -> None:
    """PTB is told ``true`` for an edit that succeeded; a refused one is still its error."""
    alice = telegram.user(1001, first_name="Alice")
    alice.chat.started = True
    request = SendingRequest(Metrics(), connection_pool_size=2, timeout=5)
    async with Bot("123456:TEST", base_url=f"{telegram.root}/bot", request=request) as bot:
        sent = await bot.send_message(1001, "one")
        assert sent.message_id == alice.messages[-1].message_id
        edited = await bot.edit_message_text("two", chat_id=1001, message_id=sent.message_id)
        assert edited is True
        assert [m.text for m in alice.messages] == ["two"]
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("two", chat_id=1001, message_id=sent.message_id)
