"""Shared by the i18n tests and the journeys: the 22 languages, and what copies stays bare.

`bot.i18n.Translator` puts Unicode directional isolates and marks into visible text for
Arabic and Persian (`ltr`, `money`, `align`, and around ``<code>`` in translations). Those
characters are invisible: a number copied with one would not paste into a phone's sign-up
form, and callback data with one would not parse.
`assert_no_bidi_in_copy` is meant for every screen a test renders, in every language::

    screen = views.order_card(get_translator("ar"), order)
    assert_no_bidi_in_copy(screen.markup)                 # a PTB InlineKeyboardMarkup
    assert_no_bidi_in_copy(message.reply_markup)          # or the JSON the fake Bot API holds
    assert_no_bidi_in_code(screen.text)                   # the <code> a tap copies
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.fakebotapi import parse_html

ALL_22 = {
    "en": "English",
    "ar": "العربية",
    "de": "Deutsch",
    "es": "Español",
    "fa": "فارسی",
    "fil": "Filipino",
    "fr": "Français",
    "hi": "हिन्दी",
    "id": "Bahasa Indonesia",
    "it": "Italiano",
    "ja": "日本語",
    "ko": "한국어",
    "ms": "Bahasa Melayu",
    "pl": "Polski",
    "pt": "Português",
    "ru": "Русский",
    "th": "ไทย",
    "tr": "Türkçe",
    "uk": "Українська",
    "vi": "Tiếng Việt",
    "zh_Hans": "简体中文",
    "zh_Hant": "繁體中文",
}
"""The 22 languages: jiema.my's 21 (issue 13; Polish since issue 22) and 繁體中文, named as the
language menu shows them."""

_VALUE_FIELDS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
)
"""Button fields whose string value Telegram hands back or opens verbatim."""


def invisible_characters(text: str) -> list[str]:
    """Return the invisible formatting characters in ``text``, as ``U+XXXX NAME`` strings.

    That is every character of Unicode category Cf (directional marks, embeddings, overrides
    and isolates, ARABIC LETTER MARK, zero-width spaces and joiners, BOM, ...).
    """
    return [
        f"U+{ord(char):04X} {unicodedata.name(char, '?')}"
        for char in text
        if unicodedata.category(char) == "Cf"
    ]


def _buttons(markup: InlineKeyboardMarkup | Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    keyboard = markup.to_dict() if isinstance(markup, InlineKeyboardMarkup) else markup
    for row in keyboard.get("inline_keyboard", []):
        yield from row


def assert_no_bidi_in_copy(markup: InlineKeyboardMarkup | Mapping[str, Any] | None) -> None:
    """Fail if a button would copy, send back or open a value with invisible characters.

    Checks the text of every ``copy_text`` button, every callback data, URL and inline query
    of an inline keyboard. Labels are not checked: they are for reading and may hold isolates.

    Args:
        markup: A PTB keyboard, the ``reply_markup`` JSON object of a message as Telegram
            returns it (e.g. the fake Bot API's ``ChatMessage.reply_markup``), or None.

    Raises:
        AssertionError: Naming each button and the characters found.
    """
    if markup is None:
        return
    problems = []
    for button in _buttons(markup):
        values = {field: button.get(field) for field in _VALUE_FIELDS}
        copy_text = button.get("copy_text")
        if isinstance(copy_text, Mapping):
            values["copy_text"] = copy_text.get("text")
        for field, value in values.items():
            if isinstance(value, str) and (found := invisible_characters(value)):
                problems.append(f"button {button.get('text')!r}: {field} {value!r} has {found}")
    assert not problems, "\n".join(problems)


_COPIED_ENTITIES = frozenset({"code", "pre"})
"""Entities whose text Telegram copies when tapped (monospace) or offers whole to copy."""


def assert_no_bidi_in_code(html: str) -> None:
    """Fail if the text of a ``<code>`` or ``<pre>`` of a message has invisible characters.

    Telegram copies a monospace entity's text when it is tapped, so an isolate around a code
    belongs outside the tag: ``t.ltr(f"<code>{code}</code>")``, not ``<code>{t.ltr(code)}</code>``.

    Args:
        html: The message text in Telegram HTML, as the bot sends it.

    Raises:
        AssertionError: Naming each entity's text and the characters found.
    """
    text, entities = parse_html(html)
    utf16 = text.encode("utf-16-le")
    problems = []
    for entity in entities:
        if entity.type in _COPIED_ENTITIES:
            value = utf16[2 * entity.offset : 2 * entity.end].decode("utf-16-le")
            if found := invisible_characters(value):
                problems.append(f"{entity.type} {value!r} has {found}")
    assert not problems, "\n".join(problems)
