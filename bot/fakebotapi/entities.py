"""Message entities: UTF-16 arithmetic, the clean-up Telegram applies, auto-detection.

Telegram counts entity offsets and lengths in UTF-16 code units, so an emoji outside the
Basic Multilingual Plane counts as two.  After parsing, TDLib "fixes" the formatted text:
it drops carriage returns, trims leading and trailing whitespace, drops entities that the
nesting rules forbid and adds the entities it detects by itself (bot commands, mentions,
hashtags, links, e-mail addresses).  This module reproduces the parts of that clean-up a bot
can observe in the returned ``Message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

# Entities a bot may set itself (through HTML or the ``entities`` parameter).
USER_ENTITY_TYPES = frozenset(
    {
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "blockquote",
        "expandable_blockquote",
    }
)
_SPLITTABLE = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler", "custom_emoji"})
_BLOCKQUOTES = frozenset({"blockquote", "expandable_blockquote"})
_CODE = frozenset({"code", "pre"})
# Auto-detected entities never start inside these.
_OPAQUE = frozenset({"code", "pre", "text_link", "text_mention"})
# TDLib sorts entities that start at the same offset and have the same length by priority.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_TRIMMED = " \t\n\v\f"


@dataclass(frozen=True, slots=True)
class Entity:
    """One ``MessageEntity``; ``offset`` and ``length`` are in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    @property
    def end(self) -> int:
        """UTF-16 offset just past the entity."""
        return self.offset + self.length

    def contains(self, other: Entity) -> bool:
        """Whether ``other`` lies strictly within this entity.

        Entities over the same span are not nested: ``<b><code>x</code></b>`` and
        ``<code><b>x</b></code>`` both give bold monospace text.
        """
        return (
            self.offset <= other.offset
            and other.end <= self.end
            and (self.offset, self.length) != (other.offset, other.length)
        )

    def to_api(self) -> dict[str, Any]:
        """The Bot API ``MessageEntity`` JSON object."""
        data: dict[str, Any] = {"offset": self.offset, "length": self.length, "type": self.type}
        if self.url is not None:
            data["url"] = self.url
        if self.language is not None:
            data["language"] = self.language
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        return data


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of ``text`` an entity covers."""
    data = text.encode("utf-16-le")
    return data[2 * offset : 2 * (offset + length)].decode("utf-16-le")


def clean_text(text: str) -> str:
    """Drop ``\\r`` and turn other control characters but tab and newline into spaces."""
    return "".join(" " if ord(ch) < 32 and ch not in "\t\n" else ch for ch in text if ch != "\r")


def entities_from_api(raw: object) -> list[Entity]:
    """Entities given explicitly by the bot (the ``entities`` parameter), kept when well-formed."""
    if not isinstance(raw, list):
        return []
    result = []
    for item in raw:
        if not isinstance(item, dict) or item.get("type") not in USER_ENTITY_TYPES:
            continue
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 1:
            continue
        emoji_id = item.get("custom_emoji_id")
        result.append(
            Entity(
                type=item["type"],
                offset=offset,
                length=length,
                url=item.get("url"),
                language=item.get("language"),
                custom_emoji_id=str(emoji_id) if emoji_id is not None else None,
            )
        )
    return result


def finalize(text: str, entities: Iterable[Entity]) -> tuple[str, list[Entity]]:
    """Apply TDLib's clean-up to parsed text: trim, enforce nesting, auto-detect, sort.

    Args:
        text: The text after HTML parsing.
        entities: The entities the bot asked for.

    Returns:
        The text as Telegram stores it and the entities it returns to the bot.
    """
    stripped_left = text.lstrip(_TRIMMED)
    shift = len(text) - len(stripped_left)  # whitespace is BMP: characters == code units
    text = stripped_left.rstrip(_TRIMMED)
    total = utf16_len(text)
    kept = []
    for entity in entities:
        start = max(0, entity.offset - shift)
        end = min(total, entity.end - shift)
        if end > start:
            kept.append(replace(entity, offset=start, length=end - start))
    kept = _enforce_nesting(kept)
    kept.extend(_detect(text, kept))
    kept.sort(key=lambda e: (e.offset, -e.length, _PRIORITY.get(e.type, 50)))
    return text, kept


def _enforce_nesting(entities: list[Entity]) -> list[Entity]:
    """Drop what the documented nesting rules forbid, as Telegram silently does.

    Nothing may live inside ``code``/``pre``; blockquotes do not nest; links, mentions and
    code do not contain each other.  Bold, italic, underline, strikethrough, spoiler and custom
    emoji may be anywhere else.
    """
    kept: list[Entity] = []
    for entity in entities:
        forbidden = False
        for outer in entities:
            if outer is entity or not outer.contains(entity):
                continue
            if outer.type in _CODE:
                forbidden = True
            elif outer.type in _BLOCKQUOTES:
                forbidden = entity.type in _BLOCKQUOTES
            elif outer.type in _OPAQUE:
                forbidden = entity.type not in _SPLITTABLE
            if forbidden:
                break
        if not forbidden:
            kept.append(entity)
    return kept


_URL = re.compile(r"(?<![\w@/.])https?://[^\s<>\"]+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?!\w)")
_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")
_MENTION = re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")
_HASHTAG = re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*(?![\w#])")
_URL_TRAILING = ".,;:!?)'\""


def _detect(text: str, explicit: list[Entity]) -> list[Entity]:
    """Entities Telegram adds by itself; URL detection is limited to ``http(s)://`` links."""
    found: list[tuple[int, int, str]] = []  # (start, end, type) in Python string indices

    def free(start: int, end: int) -> bool:
        return all(end <= s or e <= start for s, e, _ in found)

    for pattern, kind in (
        (_URL, "url"),
        (_EMAIL, "email"),
        (_BOT_COMMAND, "bot_command"),
        (_MENTION, "mention"),
        (_HASHTAG, "hashtag"),
    ):
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                end = start + len(match.group().rstrip(_URL_TRAILING))
            if free(start, end):
                found.append((start, end, kind))

    opaque = [e for e in explicit if e.type in _OPAQUE]
    result = []
    for start, end, kind in found:
        offset = utf16_len(text[:start])
        entity = Entity(kind, offset, utf16_len(text[start:end]))
        if all(entity.end <= o.offset or o.end <= entity.offset for o in opaque):
            result.append(entity)
    return result
