"""Validation of ``reply_markup``: inline keyboards, reply keyboards, remove, force reply.

Descriptions follow the Bot API server (``Client::get_reply_markup`` and
``get_inline_keyboard_button``).  Stricter than Telegram: a button with more than one action
field is rejected (Telegram silently keeps the first in its own order), and so are ``pay`` and
``callback_game`` buttons, which only work in invoices and games.
"""

from __future__ import annotations

import json
from typing import Any

from telegram.constants import InlineKeyboardButtonLimit, InlineKeyboardMarkupLimit

from .errors import (
    BUTTON_DATA_INVALID,
    BUTTON_TEXT_INVALID,
    BUTTON_URL_INVALID,
    FAKE_STRICT,
    REPLY_MARKUP_TOO_LONG,
    ApiError,
    bad_request,
    web_app_url_invalid,
)
from .html import checked_link, web_app_url_ok

_INLINE_BUTTON = "Bad Request: can't parse inline keyboard button: "
_STRING_ACTIONS = (
    "url",
    "callback_data",
    "switch_inline_query",
    "switch_inline_query_current_chat",
)
_OBJECT_ACTIONS = ("copy_text", "web_app", "login_url", "switch_inline_query_chosen_chat")
_UNSUPPORTED_ACTIONS = ("callback_game", "pay")
_REPLY_KEYBOARD_OPTIONS = (
    "is_persistent",
    "resize_keyboard",
    "one_time_keyboard",
    "input_field_placeholder",
    "selective",
)


def parse_reply_markup(raw: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Validate the ``reply_markup`` argument.

    Args:
        raw: The argument as received (JSON text), possibly empty.

    Returns:
        ``(inline_markup, other_markup)``: the ``InlineKeyboardMarkup`` as Telegram echoes it
        in ``Message.reply_markup`` (None when absent or empty), and a reply keyboard,
        ``remove_keyboard`` or ``force_reply`` object (None when absent).

    Raises:
        ApiError: With Telegram's description of the first problem found.
    """
    if not raw:
        return None, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise bad_request("Bad Request: can't parse reply keyboard markup JSON object") from exc
    if not isinstance(value, dict):
        raise bad_request("Bad Request: object expected as reply markup")
    if "inline_keyboard" in value:
        return _inline_keyboard(value["inline_keyboard"]), None
    if "keyboard" in value:
        keyboard = _reply_keyboard(value)
        return None, keyboard if keyboard["keyboard"] else None
    for flag in ("remove_keyboard", "force_reply"):
        if flag in value:
            if not isinstance(value[flag], bool):
                raise bad_request(f'Bad Request: field "{flag}" must be of the type Boolean')
            if value[flag]:
                return None, value
    return None, None


def _inline_keyboard(rows: Any) -> dict[str, Any] | None:
    if not isinstance(rows, list):
        raise bad_request(
            'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
        )
    result = []
    total = 0
    for row in rows:
        if not isinstance(row, list):
            raise bad_request(
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an '
                "Array of Arrays"
            )
        if len(row) > InlineKeyboardMarkupLimit.BUTTONS_PER_ROW:
            raise bad_request(REPLY_MARKUP_TOO_LONG)
        total += len(row)
        if row:
            result.append([_inline_button(button) for button in row])
    if total > InlineKeyboardMarkupLimit.TOTAL_BUTTON_NUMBER:
        raise bad_request(REPLY_MARKUP_TOO_LONG)
    return {"inline_keyboard": result} if result else None


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise bad_request(_INLINE_BUTTON + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(_INLINE_BUTTON + 'Can\'t find field "text"')
    text = button["text"]
    if not isinstance(text, str):
        raise bad_request(_INLINE_BUTTON + 'Field "text" must be of type String')
    for name in _STRING_ACTIONS:
        if name in button and not isinstance(button[name], str):
            raise bad_request(_INLINE_BUTTON + f'Field "{name}" must be of type String')
    for name in _OBJECT_ACTIONS:
        if name in button and not isinstance(button[name], dict):
            raise bad_request(_INLINE_BUTTON + f'Field "{name}" must be of type Object')
    # Like the real server, an empty url or callback_data counts as absent.
    actions = [
        name
        for name in (*_STRING_ACTIONS, *_OBJECT_ACTIONS, *_UNSUPPORTED_ACTIONS)
        if name in button and (name not in ("url", "callback_data") or button[name])
    ]
    if not actions:
        raise bad_request(_INLINE_BUTTON + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(
            _INLINE_BUTTON + f"exactly one of the fields {', '.join(actions)} must be used "
            f"{FAKE_STRICT}"
        )
    action = actions[0]
    if action in _UNSUPPORTED_ACTIONS:
        raise bad_request(
            _INLINE_BUTTON + f'"{action}" buttons work only in games and invoices {FAKE_STRICT}'
        )
    if not text.strip():
        raise bad_request(BUTTON_TEXT_INVALID)
    value = button[action]
    if action == "callback_data" and len(value.encode("utf-8")) > (
        InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
    ):
        raise bad_request(BUTTON_DATA_INVALID)
    if action == "url":
        value = checked_link(value)
        if value is None:
            raise bad_request(BUTTON_URL_INVALID)
    if action == "copy_text":
        copied = value.get("text")
        if not isinstance(copied, str) or not (
            1 <= len(copied) <= InlineKeyboardButtonLimit.MAX_COPY_TEXT
        ):
            raise bad_request(
                _INLINE_BUTTON + "copy_text.text must be 1-256 characters long (wording unverified)"
            )
        value = {"text": copied}
    if action in ("web_app", "login_url"):
        url = value.get("url")
        if not isinstance(url, str) or checked_link(url) is None:
            raise bad_request(BUTTON_URL_INVALID)
        if action == "web_app":
            if not web_app_url_ok(url):
                raise web_app_url_invalid("inline keyboard button", url)
            value = {"url": url}  # WebAppInfo has no other field
    return {"text": text, action: value}


def _reply_keyboard(value: dict[str, Any]) -> dict[str, Any]:
    rows = value["keyboard"]
    if not isinstance(rows, list):
        raise bad_request(
            'Bad Request: field "keyboard" of the ReplyKeyboardMarkup must be an Array'
        )
    keyboard = []
    for row in rows:
        if not isinstance(row, list):
            raise bad_request(
                'Bad Request: field "keyboard" of the ReplyKeyboardMarkup must be an '
                "Array of Arrays"
            )
        buttons = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise ApiError(
                    400,
                    "Bad Request: can't parse keyboard button: "
                    "KeyboardButton must be a String or an Object",
                )
            buttons.append(button)
        if buttons:
            keyboard.append(buttons)
    result: dict[str, Any] = {"keyboard": keyboard}
    result.update({k: value[k] for k in _REPLY_KEYBOARD_OPTIONS if k in value})
    return result


def has_web_app_button(inline: dict[str, Any] | None) -> bool:
    """Whether a validated inline keyboard holds a ``web_app`` button."""
    return inline is not None and any(
        "web_app" in button for row in inline["inline_keyboard"] for button in row
    )
