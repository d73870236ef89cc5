"""The keyboard of the message a button was pressed on, parsed only when it is read.

A button press (``callback_query``) brings the whole message it was pressed on, keyboard
included, and PTB builds that keyboard button by button for every press: half the cost of
parsing the update (0.11 of 0.23 ms for a page of services) and about a twentieth of the
bot's CPU per update in ``bench.throughput --profile``. Few handlers need it: an edit
compares it with the screen it would draw (:func:`shows`), and a toggle redraws the
keyboard with one button changed (:func:`keyboard`).

So before PTB parses an update (from ``getUpdates``, :mod:`bot.telegram_request`, or the
webhook, :mod:`bot.server`), :func:`defer_keyboard` moves the keyboard to a key the Bot API
does not have. PTB keeps such keys as they came, in the message's ``api_kwargs``; the
message's ``reply_markup`` is then None, so handlers read the keyboard through this module.
"""

from __future__ import annotations

from typing import Any, Final

from telegram import InlineKeyboardMarkup, MaybeInaccessibleMessage, Message

_KEY: Final = "jiemabot_reply_markup"


def defer_keyboard(update: Any) -> None:
    """Move the pressed message's keyboard out of PTB's way (``update`` is the raw JSON)."""
    if not isinstance(update, dict):
        return
    query = update.get("callback_query")
    message = query.get("message") if isinstance(query, dict) else None
    if isinstance(message, dict) and "reply_markup" in message:
        message[_KEY] = message.pop("reply_markup")


def keyboard(message: MaybeInaccessibleMessage | None) -> InlineKeyboardMarkup | None:
    """The keyboard of the pressed ``message``, parsed now (None if it had none)."""
    if not isinstance(message, Message):
        return None
    raw = message.api_kwargs.get(_KEY)
    if isinstance(raw, dict):
        return InlineKeyboardMarkup.de_json(raw, message.get_bot())
    return message.reply_markup  # an update built in full, not deferred


def shows(message: MaybeInaccessibleMessage | None, markup: InlineKeyboardMarkup | None) -> bool:
    """Whether the pressed ``message``'s keyboard is ``markup``, compared as JSON.

    A difference of form only (a field Telegram adds) says "not the same": the caller then
    edits, and Telegram answers "message is not modified", which costs one call.
    """
    if not isinstance(message, Message):
        return False
    raw = message.api_kwargs.get(_KEY)
    if raw is None:
        return message.reply_markup == markup
    return markup is not None and raw == markup.to_dict()
