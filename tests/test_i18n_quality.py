"""Quality gates for every language: what a catalog must be before it ships.

`tests/test_i18n.py` already requires every catalog to translate every message of the
template, not fuzzy, with the msgid's placeholders, and a plural rule that agrees with CLDR.
These gates add, for every language the bot has:

- the catalog holds nothing the template lacks (what ``pybabel update --check`` refuses), and
  each plural message has as many forms as CLDR has categories for the language;
- every translation is valid Telegram HTML (the strict fake Bot API's parser) with the same
  formatting entities as its msgid;
- every button label fits a phone: a fixed label (the messages of ``bot/keyboards.py`` and
  those whose translator comment calls them a button) within `ROW_WIDTH` columns, each label
  of the keyboards within its share of its row (Telegram gives a row's buttons equal
  widths), and the words of a label around data (a country button) short;
- copy buttons, callback data and tap-to-copy ``<code>`` carry no invisible characters in
  the right-to-left languages (`tests.i18n_checks`);
- a language identifier (lingua, offline) recognises the language of the main screens' texts,
  and the two Chinese catalogs keep to their script.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder
from telegram import InlineKeyboardMarkup

from bot import keyboards
from bot.commands import COMMANDS
from bot.fakebotapi.html import HtmlParseError, parse_html
from bot.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, SOURCE_LANGUAGE, Translator, get_translator
from bot.i18n import label_width as width
from bot.keyboards import ROW_WIDTH
from bot.services.models import Service
from tests.i18n_checks import ALL_22, assert_no_bidi_in_code, assert_no_bidi_in_copy

TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]

_ISO_639_1: dict[str, str] = {"fil": "tl"}
"""Our languages whose ISO 639-1 code is not their Babel language subtag (lingua's is Tagalog)."""


TELEGRAM = Service("tg", "telegram", "Telegram", None, 1, 1)


def _lingua(language: str) -> Language | None:
    """The language lingua knows ours as, by ISO 639-1 code; None if lingua lacks it.

    Both ``zh_Hans`` and ``zh_Hant`` are lingua's one CHINESE. Lingua 2.1 has all 22.
    """
    subtag = Locale.parse(language).language
    code = getattr(IsoCode639_1, _ISO_639_1.get(subtag, subtag).upper(), None)
    return None if code is None else Language.from_iso_code_639_1(code)


SCREENS: dict[str, list[str]] = {
    "welcome": [
        "Hi, {name}! I buy temporary phone numbers on jiema.my for you and send you the SMS "
        "codes they receive.",
        "To start, link your jiema.my API key:\n"
        "1. Open jiema.my → Account → API keys and create a key.\n"
        "2. Send /link and paste the key (it starts with <code>jm_</code>).\n"
        "I delete the message holding your key right away and keep it encrypted.",
    ],
    "help": [
        "<b>What I can do</b>",
        *(description for _, description in COMMANDS),
        "When an SMS arrives I send you the code in a new message: tap it to copy.",
    ],
    "confirmation": [
        "<b>Confirm your purchase</b>",
        "Service: {service}",
        "Country: {country}",
        "Price: <b>{price}</b>",
        "Your balance: {balance}",
        "Tap Buy to get a number. You can cancel for a full refund until an SMS arrives.",
    ],
}
"""The messages of the main screens, as the language identifier reads them."""

_NOT_WORDS = re.compile(r"<[^>]*>|\{[^}]*\}|\S*[./_]\S*")
"""Tags, placeholders, and tokens such as jiema.my, /link and jm_ (the same in every language)."""


def _po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _catalog(path: Path) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, abort_invalid=True)


def _template() -> list[Message]:
    return [message for message in _catalog(TEMPLATE) if message.id]


def _texts(message: Message) -> tuple[str, ...]:
    """The source texts of a template message: the msgid, or singular and plural."""
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def _translations(t: Translator, message: Message) -> Iterator[tuple[str, str]]:
    """``(source, translation)`` for each form of ``message`` in ``t``'s language.

    Plural messages yield one translation per CLDR category of the language, each with the
    English form for the first number of that category (the "singular" form of e.g. Russian
    also serves 21, 31, ..., so it is compared with the plural msgid).
    """
    if isinstance(message.id, str):
        yield message.id, t.gettext(message.id)
        return
    singular, plural = message.id[0], message.id[1]
    seen = set()
    for n in range(200):
        category = t.locale.plural_form(n)
        if category not in seen:
            seen.add(category)
            yield (singular if n == 1 else plural), t.ngettext(singular, plural, n)


def _fill(text: str, value: Callable[[str], str]) -> str:
    """Replace each ``{name}`` of a ``str.format`` template by ``value(name)``."""
    return "".join(
        literal + (value(field) if field is not None else "")
        for literal, field, _, _ in Formatter().parse(text)
    )


# --- the languages ----------------------------------------------------------------------------


def test_every_language_of_jiema_has_a_catalog() -> None:
    assert ALL_22.items() <= LANGUAGES.items()


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_holds_only_the_templates_messages(language: str) -> None:
    """What ``pybabel update --check`` refuses: obsolete or unknown messages."""
    catalog = _catalog(_po_path(language))
    wanted = {(message.id, message.context) for message in _template()}
    stale = [m.id for m in catalog if m.id and (m.id, m.context) not in wanted]
    assert not stale, f"{_po_path(language)}: not in the template: {stale}"
    assert not catalog.obsolete, f"{_po_path(language)}: obsolete: {list(catalog.obsolete)}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_plural_messages_have_cldrs_number_of_forms(language: str) -> None:
    catalog = _catalog(_po_path(language))
    categories = {Locale.parse(language).plural_form(n) for n in range(1000)}
    assert catalog.num_plurals == len(categories)
    short = [
        message.id
        for message in catalog
        if message.pluralizable and len(message.string or ()) != len(categories)
    ]
    assert not short, f"{language}: plural messages without {len(categories)} forms: {short}"


# --- Telegram HTML ----------------------------------------------------------------------------


def _entities(html: str) -> list[str]:
    """The formatting of a message as Telegram would apply it; HtmlParseError if malformed."""
    return sorted(entity.type for entity in parse_html(_fill(html, lambda _: "7"))[1])


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_message_is_telegram_html_formatted_like_its_source(language: str) -> None:
    t = get_translator(language)
    problems = []
    for message in _template():
        for source, translation in _translations(t, message):
            try:
                found = _entities(translation)
            except HtmlParseError as exc:
                problems.append(f"{translation!r}: {exc}")
                continue
            if found != _entities(source):
                problems.append(f"{translation!r}: formatting {found}, source {_entities(source)}")
    assert not problems, f"{language}:\n" + "\n".join(problems)


# --- button widths ----------------------------------------------------------------------------


DATA_LABEL_WORDS = 12
"""Columns the words of a label around data may take (English "left" takes 4)."""

_BETWEEN_DATA = re.compile(r"[\s·:()]")
"""Separators between the data of a label, not counted as words."""


def _is_button(message: Message) -> bool:
    return any(path == "bot/keyboards.py" for path, _ in message.locations) or any(
        "button" in comment for comment in message.auto_comments
    )


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field is not None}


def _is_fixed(message: Message) -> bool:
    """Whether a button label's length is the translation's alone (a code is 4-8 digits)."""
    return all(_placeholders(text) <= {"code"} for text in _texts(message))


def test_button_labels_are_found() -> None:
    labels = {message.id: _is_fixed(message) for message in _template() if _is_button(message)}
    assert labels["Copy number"]
    assert labels["Copy code {code}"]
    assert not labels[("{country} · {price} · {count} left",) * 2]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_fixed_button_labels_fit_a_phone(language: str) -> None:
    t = get_translator(language)
    labels = [
        _fill(translation, lambda _: "482133")
        for message in _template()
        if _is_button(message) and _is_fixed(message)
        for _, translation in _translations(t, message)
    ]
    too_wide = [f"{label!r} ({width(label)})" for label in labels if width(label) > ROW_WIDTH]
    assert not too_wide, f"{language}: wider than {ROW_WIDTH} columns: {too_wide}"


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_words_of_data_labels_are_short(language: str) -> None:
    """A label around data (a country's name, price, stock) leaves the room to the data.

    The data has no bound (a country name alone can take 30 columns, and Telegram cuts the
    end of a label that does not fit), so only the translation's own words are measured:
    at most `DATA_LABEL_WORDS` columns.
    """
    t = get_translator(language)
    words = {
        translation: _BETWEEN_DATA.sub("", _fill(translation, lambda _: ""))
        for message in _template()
        if _is_button(message) and not _is_fixed(message)
        for _, translation in _translations(t, message)
    }
    limit = DATA_LABEL_WORDS
    too_long = [f"{text!r} ({width(w)})" for text, w in words.items() if width(w) > limit]
    assert not too_long, f"{language}: more than {limit} columns of words: {too_long}"


def _keyboards(t: Translator) -> dict[str, InlineKeyboardMarkup]:
    """Every keyboard of the bot in ``t``'s language; labels of data (services, countries,
    orders) are short samples, as only the bot's own labels are checked."""
    order_cards = {
        f"order {status} {sms}": keyboards.order_card(t, "ck_order-1", status, sms, "+601234567")
        for status, sms in [("WAITING", 0), ("WAITING", 1), ("RECEIVED", 1), ("COMPLETED", 1)]
    }
    order_cards["order auto-replace"] = keyboards.order_card(
        t, "ck_order-1", "WAITING", 0, "+6012", False
    )
    return {
        "menu": keyboards.main_menu(t, linked=True),
        "menu unlinked": keyboards.main_menu(t, linked=False),
        "services": keyboards.services(t, [TELEGRAM] * 30, 1),
        "countries": keyboards.countries(t, "tg", [(7, "🇲🇾")] * 20, 1),
        "confirm": keyboards.confirm(t, "tg", "token"),
        "copy code": keyboards.copy_code(t, "482133"),
        "history": keyboards.history(t, [("ck_order-1", "Telegram")], 1, True),
        "unlink": keyboards.unlink(t),
        "forget": keyboards.forget(t),
        "languages": keyboards.languages(t.language),
        "settings": keyboards.settings(t, muted=False, auto_replace=True),
        **{name: markup for name, markup in order_cards.items() if markup is not None},
    }


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_keyboard_row_fits_a_phone(language: str) -> None:
    t = get_translator(language)
    problems = []
    for name, markup in _keyboards(t).items():
        assert_no_bidi_in_copy(markup)
        for row in markup.inline_keyboard:
            share = ROW_WIDTH // len(row)
            wide = [b.text for b in row if width(b.text) > share]
            if wide:
                problems.append(f"{name}: {wide} wider than {share} columns (row of {len(row)})")
    assert not problems, f"{language}:\n" + "\n".join(problems)


@pytest.mark.parametrize("current", list(LANGUAGES))
def test_language_menu_offers_every_language_once_on_one_keyboard(current: str) -> None:
    markup = keyboards.languages(current)
    buttons = [button for row in markup.inline_keyboard for button in row]
    assert [b.text.removeprefix("✓ ") for b in buttons] == list(LANGUAGES.values())
    assert [b.text for b in buttons if b.text.startswith("✓ ")] == [f"✓ {LANGUAGES[current]}"]
    assert [b.callback_data for b in buttons] == [f"l:{code}" for code in LANGUAGES]
    assert all(1 <= len(row) <= 3 for row in markup.inline_keyboard)
    assert len(buttons) <= 100  # Telegram's limit per keyboard
    # The layout does not depend on which language is ticked.
    shape = [len(row) for row in markup.inline_keyboard]
    assert shape == [len(row) for row in keyboards.languages(SOURCE_LANGUAGE).inline_keyboard]


# --- right to left ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", [code for code in LANGUAGES if get_translator(code).rtl])
def test_copy_buttons_and_callback_data_carry_bare_values_in_rtl(language: str) -> None:
    t = get_translator(language)
    card = keyboards.order_card(t, "ck_order-1", "WAITING", 0, "+60126856518")
    assert card is not None
    assert_no_bidi_in_copy(card)
    copy = next(b for row in card.inline_keyboard for b in row if b.copy_text is not None)
    assert copy.copy_text is not None
    assert copy.copy_text.text == "+60126856518"
    assert_no_bidi_in_copy(keyboards.copy_code(t, "48213"))


def test_assert_no_bidi_in_copy_catches_isolates_marks_and_joiners() -> None:
    t = Translator("ar")
    keyboard = keyboards.copy_code(t, t.ltr("48213"))
    with pytest.raises(AssertionError, match=r"U\+2066 LEFT-TO-RIGHT ISOLATE"):
        assert_no_bidi_in_copy(keyboard)
    raw: dict[str, Any] = {"inline_keyboard": [[{"text": "x", "callback_data": "o:v:ab\u200fc"}]]}
    with pytest.raises(AssertionError, match=r"callback_data .*U\+200F RIGHT-TO-LEFT MARK"):
        assert_no_bidi_in_copy(raw)
    raw = {"inline_keyboard": [[{"text": t.ltr("48213"), "copy_text": {"text": "48213"}}]]}
    assert_no_bidi_in_copy(raw)  # the label may carry isolates, the copied text not
    assert_no_bidi_in_copy(None)


def test_assert_no_bidi_in_code_wants_isolates_outside_the_tag() -> None:
    t = Translator("ar")
    assert_no_bidi_in_code(t.align(t.ltr("<code>+60126856518</code>")) + " 🎉 <b>x</b>")
    with pytest.raises(AssertionError, match=r"code '\\u2066\+601\\u2069' has \['U\+2066"):
        assert_no_bidi_in_code(f"📱 <code>{t.ltr('+601')}</code>")
    with pytest.raises(AssertionError, match="pre"):
        assert_no_bidi_in_code("<pre>48213\u200e</pre>")


# --- language identification ---

_SCRIPT_PAIRS = (
    "号號码碼买買语語务務单單发發为為这這们們个個国國钥鑰绑綁时時间間删刪费費额額订訂说說请請"
    "开開关關复複项項选選择擇换換显顯页頁应應让讓还還没沒读讀认認证證验驗账賬线線网網级級达達"
    "结結区區试試点點来來对對过過样樣实實现現"
)
"""Common characters written differently in Simplified and Traditional Chinese, in pairs."""


@pytest.mark.parametrize(
    ("language", "other_script"),
    [("zh_Hans", set(_SCRIPT_PAIRS[1::2])), ("zh_Hant", set(_SCRIPT_PAIRS[::2]))],
)
def test_chinese_catalogs_keep_to_their_script(language: str, other_script: set[str]) -> None:
    """Lingua knows one Chinese; characters of the other script tell the two catalogs apart."""
    t = get_translator(language)
    mixed = {
        translation: sorted(set(translation) & other_script)
        for message in _template()
        for _, translation in _translations(t, message)
        if set(translation) & other_script
    }
    assert not mixed, f"{language}: characters of the other script: {mixed}"


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    """A lingua detector choosing among our languages (models load lazily, ~50 MB).

    Among ours rather than all of lingua's 75: the question is whether a text reads as its
    language rather than as another one the bot speaks (or English left over).
    """
    known = {lingua for language in LANGUAGES if (lingua := _lingua(language)) is not None}
    return LanguageDetectorBuilder.from_languages(*known).build()


def test_lingua_knows_our_languages() -> None:
    assert _lingua("fil") == Language.TAGALOG
    assert _lingua("zh_Hans") == _lingua("zh_Hant") == Language.CHINESE
    assert _lingua("ms") == Language.MALAY
    assert _lingua("id") == Language.INDONESIAN
    assert _lingua("fa") == Language.PERSIAN
    assert _lingua("pl") == Language.POLISH
    assert all(_lingua(language) is not None for language in ALL_22)


def test_the_screens_messages_are_in_the_template() -> None:
    ids = {message.id for message in _template()}
    missing = [text for texts in SCREENS.values() for text in texts if text not in ids]
    assert not missing, f"SCREENS names messages the bot no longer has: {missing}"


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_language_identifier_recognises_the_main_screens(
    detector: LanguageDetector, language: str, screen: str
) -> None:
    expected = _lingua(language)
    if expected is None:
        pytest.skip(f"lingua has no model for {language}")
    t = get_translator(language)
    text = " ".join(_NOT_WORDS.sub(" ", t._(message)) for message in SCREENS[screen])
    detected = detector.detect_language_of(text)
    confidences = detector.compute_language_confidence_values(text)[:3]
    best = [(c.language.name, round(c.value, 2)) for c in confidences]
    assert detected == expected, f"{language} {screen} reads as {best}: {text!r}"
