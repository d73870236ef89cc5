"""Unit tests of the fake's HTML parser and entity clean-up (no server involved)."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.fakebotapi import Entity, HtmlParseError, parse_html, utf16_len, utf16_slice
from bot.fakebotapi.entities import entities_from_api, finalize


def parsed(source: str) -> tuple[str, list[Entity]]:
    """Parse and clean up as sendMessage does."""
    return finalize(*parse_html(source))


def error_of(source: str, *, strict: bool = True) -> str:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(source, strict_entities=strict)
    return str(caught.value)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("<b>x</b>", "bold"),
        ("<strong>x</strong>", "bold"),
        ("<i>x</i>", "italic"),
        ("<em>x</em>", "italic"),
        ("<u>x</u>", "underline"),
        ("<ins>x</ins>", "underline"),
        ("<s>x</s>", "strikethrough"),
        ("<strike>x</strike>", "strikethrough"),
        ("<del>x</del>", "strikethrough"),
        ("<tg-spoiler>x</tg-spoiler>", "spoiler"),
        ('<span class="tg-spoiler">x</span>', "spoiler"),
        ("<code>x</code>", "code"),
        ("<pre>x</pre>", "pre"),
        ("<blockquote>x</blockquote>", "blockquote"),
        ("<blockquote expandable>x</blockquote>", "expandable_blockquote"),
        ("<B>x</B>", "bold"),
        ('<b class="ignored">x</b>', "bold"),
        ("<b>x</>", "bold"),
    ],
)
def test_supported_tags(source: str, kind: str) -> None:
    assert parsed(source) == ("x", [Entity(kind, 0, 1)])


def test_nested_tags_give_nested_entities() -> None:
    text, entities = parsed("<b>bold <i>both</i></b> plain")
    assert text == "bold both plain"
    assert entities == [Entity("bold", 0, 9), Entity("italic", 5, 4)]


def test_links_and_custom_emoji() -> None:
    text, entities = parsed(
        '<a href="https://example.com?a=1&amp;b=2">site</a> '
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    assert text == "site 👍"
    assert entities == [
        Entity("text_link", 0, 4, url="https://example.com/?a=1&b=2"),
        Entity("custom_emoji", 5, 2, custom_emoji_id="5368324170671202286"),
    ]


def test_link_without_valid_url_is_dropped_silently() -> None:
    assert parsed('<a href="">click here</a>') == ("click here", [])


def test_pre_with_nested_language_code_is_one_entity() -> None:
    text, entities = parsed('<pre><code class="language-python">print(1)</code></pre>')
    assert (text, entities) == ("print(1)", [Entity("pre", 0, 8, language="python")])
    assert parsed('<code class="language-python">x</code>') == ("x", [Entity("code", 0, 1)])


def test_character_references() -> None:
    text, entities = parsed("&lt;b&gt; &amp; &quot; &#128512; &#x1F600; &amp")
    assert (text, entities) == ('<b> & " 😀 😀 &', [])


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("Hi <br/>", 'Unsupported start tag "br/" at byte offset 3'),
        ("привет <div>", 'Unsupported start tag "div" at byte offset 13'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
        ("<a href", 'Unclosed start tag "a" at byte offset 0'),
        ("<b >", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b />", 'Empty attribute name in the tag "b" at byte offset 0'),
        ("<a href=https://x>y</a>", "Unexpected end of name token at byte offset 8"),
        ('<span class="bold">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("a\0b", "Text must not contain null bytes"),
        (
            "&#xD800;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
        ),
    ],
)
def test_malformed_html_is_rejected_with_telegrams_reason(source: str, reason: str) -> None:
    assert error_of(source) == reason


@pytest.mark.parametrize(
    ("source", "start"),
    [
        ("AT&T", 'Character "&" at byte offset 2 must be escaped as "&amp;"'),
        ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
        ("1 > 0", 'Character ">" at byte offset 2 must be escaped as "&gt;"'),
        ('<a href="https://x.com/?a=1&b=2">x</a>', 'Character "&" at byte offset 27'),
    ],
)
def test_unescaped_characters_are_rejected_in_strict_mode(source: str, start: str) -> None:
    reason = error_of(source)
    assert reason.startswith(start)
    assert reason.endswith("[fake Bot API strictness]")


def test_lenient_mode_keeps_unescaped_characters_like_telegram() -> None:
    assert parse_html("AT&T &nbsp; 1 > 0", strict_entities=False) == ("AT&T &nbsp; 1 > 0", [])


def test_offsets_count_utf16_code_units() -> None:
    text, entities = parsed("😀 <b>ok</b> <i>👍🏽</i>")
    assert text == "😀 ok 👍🏽"
    assert entities == [Entity("bold", 3, 2), Entity("italic", 6, 4)]
    assert [utf16_slice(text, e.offset, e.length) for e in entities] == ["ok", "👍🏽"]


def test_empty_entities_are_dropped_and_whitespace_trimmed() -> None:
    assert parsed("  <b></b>\n<i>x</i>  \n") == ("x", [Entity("italic", 0, 1)])


def test_nesting_rules_drop_what_telegram_drops() -> None:
    assert parsed("<code>a<b>x</b></code>") == ("ax", [Entity("code", 0, 2)])
    assert parsed("<blockquote>a<blockquote>b</blockquote></blockquote>") == (
        "ab",
        [Entity("blockquote", 0, 2)],
    )
    bold_code = ("x", [Entity("code", 0, 1), Entity("bold", 0, 1)])  # same span: by priority
    assert parsed("<b><code>x</code></b>") == bold_code
    assert parsed("<code><b>x</b></code>") == bold_code


def test_auto_detected_entities() -> None:
    text, entities = parsed("/start@jiema_test_bot or /help, see https://jiema.my/x. @alice #otp")
    kinds = [(e.type, utf16_slice(text, e.offset, e.length)) for e in entities]
    assert kinds == [
        ("bot_command", "/start@jiema_test_bot"),
        ("bot_command", "/help"),
        ("url", "https://jiema.my/x"),
        ("mention", "@alice"),
        ("hashtag", "#otp"),
    ]
    assert parsed("<code>/start</code>") == ("/start", [Entity("code", 0, 6)])


def test_explicit_entities_are_clamped_to_the_text() -> None:
    raw = [
        {"type": "bold", "offset": 0, "length": 99},
        {"type": "mention", "offset": 0, "length": 1},
        {"type": "italic", "offset": "0", "length": 1},
    ]
    assert finalize("hi", entities_from_api(raw)) == ("hi", [Entity("bold", 0, 2)])


@given(st.text().filter(lambda s: "\0" not in s))
def test_escaped_text_round_trips(text: str) -> None:
    assert parse_html(html.escape(text)) == (text, [])


@given(st.text(min_size=1).filter(lambda s: "\0" not in s))
def test_bold_covers_the_whole_text_in_utf16(text: str) -> None:
    assert parse_html(f"<b>{html.escape(text)}</b>") == (text, [Entity("bold", 0, utf16_len(text))])
