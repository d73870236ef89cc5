"""A strict parser for Telegram's HTML parse mode.

The algorithm follows TDLib's ``parse_html`` (``td/telegram/MessageEntity.cpp``) step by
step, because that function is what turns a bot's HTML into entities on the real service:
the same tags are accepted, unknown attributes are ignored, the same malformed input is
rejected with the same reason and byte offset (offsets count UTF-8 bytes of the raw text).

One deliberate difference: Telegram keeps a bare ``&``, ``>`` or an unknown named entity such
as ``&nbsp;`` as literal text, although the documentation requires them to be escaped.  Such
text almost always means a bot forgot to escape user data, so ``strict_entities=True`` (the
default) rejects it with a description marked as the fake's own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from .entities import Entity
from .errors import FAKE_STRICT

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
}
_SPACES = frozenset(b" \t\r\n\v\f")
_LT, _GT, _AMP, _SLASH, _EQ = b"<>&/="
_QUOTES = frozenset(b"\"'")
_ATTRIBUTE_NAME_END = _SPACES | frozenset(b"=>/\"'")
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_INT64_MAX = 2**63 - 1


class HtmlParseError(ValueError):
    """Malformed HTML; ``str(error)`` is the reason after ``can't parse entities: ``."""


@dataclass(frozen=True, slots=True)
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output
    begin: int  # byte position in the output


def parse_html(source: str, *, strict_entities: bool = True) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML into plain text and entities.

    Args:
        source: The ``text`` parameter as the bot sent it.
        strict_entities: Reject a bare ``&``/``>`` and unknown named entities (see module doc).

    Returns:
        The plain text and its entities (UTF-16 offsets, unsorted, before TDLib's clean-up).

    Raises:
        HtmlParseError: With Telegram's reason, e.g. ``Unsupported start tag "div" at byte
            offset 0``.
    """
    if "\0" in source:
        raise HtmlParseError("Text must not contain null bytes")
    return _Parser(source.encode("utf-8", "surrogatepass"), strict_entities).run()


def _is_alnum(byte: int) -> bool:
    return chr(byte).isascii() and chr(byte).isalnum()


class _Parser:
    def __init__(self, data: bytes, strict_entities: bool) -> None:
        self.data = data
        self.strict = strict_entities
        self.out = bytearray()
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[Entity] = []
        self.surrogates = False

    # -- character level -------------------------------------------------------------------

    def _byte(self, pos: int) -> int:
        """The byte at ``pos``, or 0 past the end (TDLib reads a NUL-terminated string)."""
        return self.data[pos] if pos < len(self.data) else 0

    def _skip_spaces(self, pos: int) -> int:
        while pos < len(self.data) and self.data[pos] in _SPACES:
            pos += 1
        return pos

    def _decode_entity(self, pos: int) -> tuple[str, int] | None:
        """Decode the character reference at ``pos`` (an ``&``) like TDLib does.

        The trailing semicolon is optional; numeric references must be 1..0x10FFFE and at most
        nine characters long including ``&#``.
        """
        end = pos + 1
        if self._byte(end) == ord("#"):
            end += 1
            hexadecimal = self._byte(end) == ord("x")
            if hexadecimal:
                end += 1
            start = end
            digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
            while self._byte(end) and self._byte(end) in digits:
                end += 1
            number = self.data[start:end]
            code = int(number, 16 if hexadecimal else 10) if number else 0
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return None
            char = chr(code)
        else:
            while chr(self._byte(end)).isascii() and chr(self._byte(end)).isalpha():
                end += 1
            named = _NAMED.get(self.data[pos + 1 : end])
            if named is None:
                return None
            char = named
        if self._byte(end) == ord(";"):
            end += 1
        return char, end

    def _strict_entity_error(self, pos: int) -> HtmlParseError:
        end = pos + 1
        while chr(self._byte(end)).isascii() and chr(self._byte(end)).isalnum():
            end += 1
        if end > pos + 1 and self._byte(end) == ord(";"):
            name = self.data[pos : end + 1].decode()
            return HtmlParseError(
                f'Unsupported HTML entity "{name}" at byte offset {pos}; only &lt;, &gt;, '
                f"&amp;, &quot; and numeric entities are supported {FAKE_STRICT}"
            )
        return HtmlParseError(
            f'Character "&" at byte offset {pos} must be escaped as "&amp;" {FAKE_STRICT}'
        )

    def _append(self, char: str) -> None:
        if 0xD800 <= ord(char) <= 0xDFFF:
            self.surrogates = True
        self.out += char.encode("utf-8", "surrogatepass")
        self.utf16 += 2 if ord(char) > 0xFFFF else 1

    # -- structure -------------------------------------------------------------------------

    def run(self) -> tuple[str, list[Entity]]:
        data, pos = self.data, 0
        while pos < len(data):
            byte = data[pos]
            if byte == _AMP:
                decoded = self._decode_entity(pos)
                if decoded is not None:
                    char, pos = decoded
                    self._append(char)
                    continue
                if self.strict:
                    raise self._strict_entity_error(pos)
            if byte == _GT and self.strict:
                raise HtmlParseError(
                    f'Character ">" at byte offset {pos} must be escaped as "&gt;" {FAKE_STRICT}'
                )
            if byte != _LT:
                if byte & 0xC0 != 0x80:  # first byte of a UTF-8 sequence
                    self.utf16 += 2 if byte >= 0xF0 else 1
                self.out.append(byte)
                pos += 1
                continue
            pos = self._end_tag(pos) if self._byte(pos + 1) == _SLASH else self._start_tag(pos)
        if self.stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        if self.surrogates:
            raise HtmlParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        entities = [
            Entity(e.type, e.offset, e.length) if e.type == "code" else e for e in self.entities
        ]
        return self.out.decode("utf-8"), entities

    def _start_tag(self, begin: int) -> int:
        data, pos = self.data, begin + 1
        while pos < len(data) and data[pos] not in _SPACES and data[pos] != _GT:
            pos += 1
        if pos >= len(data):
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        name = data[begin + 1 : pos].lower().decode("utf-8", "replace")
        if name not in SUPPORTED_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {begin}')

        argument = ""
        while data[pos] != _GT:
            pos = self._skip_spaces(pos)
            if self._byte(pos) == _GT:
                break
            attribute_begin = pos
            while pos < len(data) and data[pos] not in _ATTRIBUTE_NAME_END:
                pos += 1
            attribute = data[attribute_begin:pos]
            if not attribute:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {begin}'
                )
            pos = self._skip_spaces(pos)
            if self._byte(pos) != _EQ:
                if pos >= len(data):
                    raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
                if name == "blockquote" and attribute == b"expandable":
                    argument = "1"
                continue
            pos = self._skip_spaces(pos + 1)
            if pos >= len(data):
                raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
            value, pos = self._attribute_value(pos)
            if pos >= len(data):
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            argument = _argument(name, attribute, value, argument)

        if name == "span" and argument != "spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.stack.append(_OpenTag(name, argument, self.utf16, len(self.out)))
        return pos + 1

    def _attribute_value(self, pos: int) -> tuple[str, int]:
        data = self.data
        if data[pos] not in _QUOTES:
            # A name token: letters, digits, periods or hyphens; case-insensitive.
            token_begin = pos
            while pos < len(data) and (_is_alnum(data[pos]) or data[pos] in b".-"):
                pos += 1
            if pos < len(data) and data[pos] not in _SPACES and data[pos] != _GT:
                raise HtmlParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return data[token_begin:pos].lower().decode(), pos
        quote = data[pos]
        pos += 1
        value = bytearray()
        while pos < len(data) and data[pos] != quote:
            if data[pos] == _AMP:
                decoded = self._decode_entity(pos)
                if decoded is not None:
                    char, pos = decoded
                    value += char.encode("utf-8", "surrogatepass")
                    continue
                if self.strict:
                    raise self._strict_entity_error(pos)
            value.append(data[pos])
            pos += 1
        if pos < len(data):
            pos += 1  # the closing quote
        return value.decode("utf-8", "replace"), pos

    def _end_tag(self, begin: int) -> int:
        if not self.stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        data, pos = self.data, begin + 2
        while pos < len(data) and data[pos] not in _SPACES and data[pos] != _GT:
            pos += 1
        end_name = data[begin + 2 : pos].lower().decode("utf-8", "replace")
        pos = self._skip_spaces(pos)
        if self._byte(pos) != _GT:
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        tag = self.stack[-1]
        if end_name and end_name != tag.name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {begin}, "
                f'expected "</{tag.name}>", found "</{end_name}>"'
            )
        if self.utf16 > tag.offset:
            self._close(tag)
        self.stack.pop()
        return pos + 1

    def _close(self, tag: _OpenTag) -> None:
        offset, length = tag.offset, self.utf16 - tag.offset
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last.offset, last.length) == (offset, length)
        if tag.name in _SIMPLE_TAGS or tag.name == "span":
            self.entities.append(Entity(_SIMPLE_TAGS.get(tag.name, "spoiler"), offset, length))
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit() or not 0 < int(tag.argument) <= _INT64_MAX:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            self.entities.append(
                Entity("custom_emoji", offset, length, custom_emoji_id=str(int(tag.argument)))
            )
        elif tag.name == "a":
            url = checked_link(tag.argument or self.out[tag.begin :].decode("utf-8", "replace"))
            if url is not None:
                self.entities.append(Entity("text_link", offset, length, url=url))
        elif tag.name == "pre":
            if same_span and last is not None and last.type == "code" and last.language:
                self.entities[-1] = Entity("pre", offset, length, language=last.language)
            else:
                self.entities.append(Entity("pre", offset, length))
        elif tag.name == "code":
            if same_span and last is not None and last.type == "pre" and tag.argument:
                self.entities[-1] = Entity("pre", offset, length, language=tag.argument)
            else:
                self.entities.append(Entity("code", offset, length, language=tag.argument or None))
        else:  # blockquote
            kind = "expandable_blockquote" if tag.argument else "blockquote"
            self.entities.append(Entity(kind, offset, length))


def _argument(tag: str, attribute: bytes, value: str, current: str) -> str:
    """The one attribute TDLib keeps per tag; every other attribute is ignored."""
    if tag == "a" and attribute == b"href":
        return value
    if tag == "code" and attribute == b"class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attribute == b"class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attribute == b"emoji-id":
        return value
    if tag == "blockquote" and attribute == b"expandable":
        return "1"
    return current


def checked_link(url: str) -> str | None:
    """Approximate TDLib's link check: the URL a ``text_link`` gets, or None to drop it.

    ``http(s)`` links need a host and get a ``/`` path when they have none; ``tg://`` and
    ``ton://`` links pass as they are; a bare domain gets ``http://``; anything else is
    dropped silently, as Telegram does.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        if "." in url.split("/", 1)[0] and " " not in url and ":" not in url.split("/", 1)[0]:
            return checked_link(f"http://{url}")
        return None
    scheme = scheme.lower()
    if scheme in ("tg", "ton"):
        return url if rest else None
    if scheme not in ("http", "https"):
        return None
    host_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    host = rest[:host_end]
    if not host or " " in host:
        return None
    path = rest[host_end:]
    if not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{host}{path}"


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def web_app_url_ok(url: str) -> bool:
    """Whether a Mini App may be opened at ``url``: ``https``, or ``http`` on a loopback host
    (the fake's deliberate allowance; Telegram's test environment allows ``http`` too)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host:
        return False
    return scheme == "https" or (scheme == "http" and is_loopback_host(host))
