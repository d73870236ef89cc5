"""Tests of `bot.i18n` against the real catalogs under ``locales/`` (no mocks).

The compiled ``.mo`` files come from ``pip install -e .``.

Catalog rules enforced here, for every language but the source one and every message of
``locales/messages.pot``: the translation exists, is not empty and not fuzzy, and uses exactly
the brace placeholders of the msgid. For plural messages every form must use exactly the
placeholders of the plural msgid: no form may drop ``{count}``, because in e.g. Russian the
"singular" form also serves 21, 31, ... Placeholders must be named (``{balance}``, not ``{}``).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from gettext import c2py
from pathlib import Path
from string import Formatter

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from bidi import get_display

from bot.fakebotapi import parse_html
from bot.i18n import (
    DOMAIN,
    LANGUAGES,
    LOCALE_DIR,
    LRI,
    N_,
    PDI,
    RLM,
    SOURCE_LANGUAGE,
    Translator,
    available_languages,
    command_menu_languages,
    flag,
    get_translator,
    label_width,
    needs_chat_command_menu,
    negotiate,
)
from tests.i18n_checks import ALL_22

PROJECT_ROOT = LOCALE_DIR.parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
CLDR_PLURAL_ORDER = ("zero", "one", "two", "few", "many", "other")
PLURAL_SAMPLE = range(1000)


def _po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read_catalog(path: Path) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, abort_invalid=True)


def _placeholders(text: str) -> set[str]:
    """Return the field names of a ``str.format`` template; ValueError if it is malformed."""
    return {field for _, field, _, _ in Formatter().parse(text) if field is not None}


def _forms(message: Message) -> tuple[str, ...]:
    """Return the translated forms of a message: one, or one per plural form."""
    string = message.string
    return tuple(string) if isinstance(string, tuple | list) else (string or "",)


def _ids(message: Message) -> tuple[str, ...]:
    """Return the source texts of a message: the msgid, or singular and plural."""
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def _catalog_problems(catalog: Catalog, template: Catalog) -> list[str]:
    """List what keeps ``catalog`` from translating every message of ``template`` correctly."""
    problems = [f"{message.id!r}: {errors}" for message, errors in catalog.check()]
    if catalog.fuzzy:
        problems.append("the header is fuzzy, so `pybabel compile` would skip the catalog")
    for expected in template:
        if not expected.id:
            continue  # the header
        message = catalog.get(expected.id, expected.context)
        if message is None or message.fuzzy:
            problems.append(f"{expected.id!r}: {'fuzzy' if message else 'missing'}")
            continue
        wanted = _placeholders(_ids(expected)[-1])
        for index, form in enumerate(_forms(message)):
            where = f"{expected.id!r}" + (f" form {index}" if expected.pluralizable else "")
            if not form:
                problems.append(f"{where}: not translated")
                continue
            try:
                found = _placeholders(form)
            except ValueError as exc:
                problems.append(f"{where} {form!r}: {exc}")
                continue
            if found != wanted:
                problems.append(
                    f"{where} {form!r}: placeholders {sorted(found)}, expected {sorted(wanted)}"
                )
    return problems


# --- languages and negotiation ----------------------------------------------------------------


@pytest.fixture(scope="module")
def all_22(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The codes `available_languages` finds in a directory with a catalog for each of the 22.

    The catalogs are empty files: finding and naming languages only looks at the paths.
    """
    locale_dir = tmp_path_factory.mktemp("locales")
    for code in ALL_22:
        if code != SOURCE_LANGUAGE:
            (locale_dir / code / "LC_MESSAGES").mkdir(parents=True)
            (locale_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po").touch()
    (locale_dir / "README").touch()  # not a catalog
    languages = available_languages(locale_dir)
    assert dict(languages) == ALL_22
    return list(languages)


def test_languages_are_the_source_language_then_the_catalogs_by_code(all_22: list[str]) -> None:
    assert available_languages(LOCALE_DIR) == LANGUAGES
    assert all_22 == ["en", *sorted(set(ALL_22) - {"en"})]
    # Each language is named in itself as its speakers name it (CLDR, with two corrections).
    assert {code: LANGUAGES[code] for code in LANGUAGES.keys() & ALL_22.keys()} == {
        code: ALL_22[code] for code in LANGUAGES.keys() & ALL_22.keys()
    }


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_directories_are_canonical_locale_identifiers(language: str) -> None:
    assert str(Locale.parse(language)) == language
    assert _po_path(language).is_file()


@pytest.mark.parametrize(
    ("language_code", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("en-gb", "en"),
        ("EN", "en"),
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("uk", "uk"),
        ("uk-UA", "uk"),
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-cn", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-sg", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-hant", "zh_Hant"),
        ("zh-Hant-TW", "zh_Hant"),
        ("zh-TW", "zh_Hant"),
        ("zh-tw", "zh_Hant"),
        ("zh-hk", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("zh-mo", "zh_Hant"),
        ("pt-br", "pt"),
        ("pt", "pt"),
        ("pt-PT", "pt"),
        ("it", "it"),
        ("it-CH", "it"),
        ("es", "es"),
        ("es-419", "es"),
        ("es-MX", "es"),
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("de", "de"),
        ("de-AT", "de"),
        ("tr", "tr"),
        ("ar", "ar"),
        ("ar-EG", "ar"),
        ("fa", "fa"),
        ("fa-IR", "fa"),
        ("hi", "hi"),
        ("hi-IN", "hi"),
        ("id", "id"),
        ("in", "id"),  # the withdrawn ISO 639 code some Android versions still report
        ("ms", "ms"),
        ("ms-MY", "ms"),
        ("pl", "pl"),
        ("pl-PL", "pl"),
        ("pl-pl", "pl"),
        ("vi", "vi"),
        ("th", "th"),
        ("tl", "fil"),  # Tagalog: Filipino's ISO 639-1 code
        ("fil", "fil"),
        ("fil-PH", "fil"),
        ("ja", "ja"),
        ("ko", "ko"),
        ("en-US-x-twain", "en"),  # not parseable as a whole: the primary subtag decides
        ("ru-x-private", "ru"),
        ("he", "en"),  # a language we do not have
        ("nl", "en"),
        (None, "en"),
        ("", "en"),
        ("x", "en"),
        ("garbage!!", "en"),
        ("123", "en"),
    ],
)
def test_negotiate_among_all_22(
    language_code: str | None, expected: str, all_22: list[str]
) -> None:
    assert negotiate(language_code, all_22) == expected


@pytest.mark.parametrize(
    ("language_code", "expected"),
    [("zh-hant", "zh_Hans"), ("zh-TW", "zh_Hans"), ("zh-HK", "zh_Hans"), ("zh", "zh_Hans")],
)
def test_negotiate_prefers_another_script_of_the_language_to_the_source_language(
    language_code: str, expected: str
) -> None:
    assert negotiate(language_code, ["en", "ru", "zh_Hans"]) == expected


def test_negotiate_uses_the_catalogs_there_are() -> None:
    assert negotiate("pt-br") == ("pt" if "pt" in LANGUAGES else "en")
    assert negotiate("zh-hans") == "zh_Hans"


def test_negotiate_maps_our_codes_to_themselves(all_22: list[str]) -> None:
    assert [negotiate(language, all_22) for language in all_22] == all_22
    assert [negotiate(language) for language in LANGUAGES] == list(LANGUAGES)


# --- the command menu -------------------------------------------------------------------------


def test_command_menu_languages_are_telegrams_two_letter_codes(all_22: list[str]) -> None:
    menus = command_menu_languages(all_22)
    assert menus == [
        (None, "en"),
        ("ar", "ar"),
        ("de", "de"),
        ("es", "es"),
        ("fa", "fa"),
        ("tl", "fil"),
        ("fr", "fr"),
        ("hi", "hi"),
        ("id", "id"),
        ("it", "it"),
        ("ja", "ja"),
        ("ko", "ko"),
        ("ms", "ms"),
        ("pl", "pl"),
        ("pt", "pt"),
        ("ru", "ru"),
        ("th", "th"),
        ("tr", "tr"),
        ("uk", "uk"),
        ("vi", "vi"),
        ("zh", "zh_Hans"),
    ]
    codes = [code for code, _ in menus if code is not None]
    assert all(len(code) == 2 and code.isascii() and code.islower() for code in codes)
    assert len(set(codes)) == len(codes)
    # A user whose app speaks a menu's code is served that menu's language by negotiation.
    for code, language in menus:
        assert negotiate(code, all_22) == language


def test_command_menu_languages_of_the_catalogs_there_are() -> None:
    menus = command_menu_languages()
    assert menus[0] == (None, SOURCE_LANGUAGE)
    assert {language for _, language in menus} == set(LANGUAGES) - {"zh_Hant"}


@pytest.mark.parametrize(
    ("language_code", "language", "needed"),
    [
        ("zh-hant", "zh_Hant", True),  # the zh menu is Simplified
        ("zh-TW", "zh_Hant", True),
        ("zh-hans", "zh_Hans", False),
        ("zh", "zh_Hans", False),
        ("fil", "fil", True),  # Filipino's menu is registered as tl
        ("tl", "fil", False),
        ("pt-br", "pt", False),
        ("in", "id", True),  # the id menu; an app saying "in" gets the default one
        ("id", "id", False),
        ("he", "en", False),  # the default menu is English
        (None, "en", False),
        (None, "ar", True),
        ("ar-EG", "ar", False),
        ("en", "de", True),  # chose German with /language in an English app
        ("de-AT", "de", False),
        ("pl-PL", "pl", False),
    ],
)
def test_needs_chat_command_menu(
    language_code: str | None, language: str, needed: bool, all_22: list[str]
) -> None:
    assert needs_chat_command_menu(language_code, language, all_22) is needed


# --- translators ------------------------------------------------------------------------------


def test_get_translator_shares_one_translator_per_language() -> None:
    assert get_translator("ru") is get_translator("ru")
    assert get_translator("ru").language == "ru"
    assert get_translator("zh_Hans").locale == Locale("zh", script="Hans")


@pytest.mark.parametrize("language", ["zh-hans", "zh", "en-US", "tlh", ""])
def test_get_translator_rejects_codes_that_are_not_ours(language: str) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        get_translator(language)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_unknown_messages_come_back_as_source_text(language: str) -> None:
    t = get_translator(language)
    assert t.gettext("No such message {x}") == "No such message {x}"
    assert t._("No such message") == "No such message"
    assert t.ngettext("{count} thing", "{count} things", 1) == "{count} thing"
    assert t.ngettext("{count} thing", "{count} things", 2) == "{count} things"


def test_marked_messages_are_not_translated_at_definition() -> None:
    assert N_("Top up") == "Top up"


# --- right to left ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(ALL_22))
def test_rtl_is_arabic_and_persian_only(language: str) -> None:
    assert Translator(language).rtl is (language in ("ar", "fa"))


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_ltr_isolates_values_in_right_to_left_languages(language: str) -> None:
    t = Translator(language)
    assert t.ltr("+60126856518") == f"{LRI}+60126856518{PDI}"
    assert t.ltr("48213") == "\u206648213\u2069"


@pytest.mark.parametrize("language", sorted(set(ALL_22) - {"ar", "fa"}))
def test_ltr_is_the_identity_in_left_to_right_languages(language: str) -> None:
    assert Translator(language).ltr("+60126856518") == "+60126856518"


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_align_starts_every_line_right_to_left_in_rtl_languages(language: str) -> None:
    t = Translator(language)
    assert (
        t.align("📱 <code>+601</code>\nTelegram\n")
        == f"{RLM}📱 <code>+601</code>\n{RLM}Telegram\n{RLM}"
    )


def test_align_leaves_quoted_lines_alone() -> None:
    ar = Translator("ar")
    sms = "<blockquote>Your code is 48213.\nDon't share it.</blockquote>"
    text = f"رسالة\n{sms}\n<pre>a\nb</pre> x\n<b>y</b>"
    assert ar.align(text) == f"{RLM}رسالة\n{sms}\n<pre>a\nb</pre> x\n{RLM}<b>y</b>"
    shown = _shown(ar.align(f"📱 {ar.ltr('+601')}\n{sms}"))
    assert shown == "+601 📱\nYour code is 48213.\nDon't share it."
    assert _shown(f"{RLM}Your code is 48213.") == ".Your code is 48213"  # were it aligned


@pytest.mark.parametrize("language", ["en", "he", "ja", "ur"])
def test_align_is_the_identity_in_ltr_languages_only(language: str) -> None:
    t = Translator(language)
    text = "📱 <code>+601</code>\nTelegram"
    assert (t.align(text) == text) is not t.rtl
    assert t.rtl is (language in ("he", "ur"))  # CLDR's direction, catalogs or not


@pytest.mark.parametrize(
    ("language", "cents", "expected"),
    [
        # CLDR's own direction marks stay inside.
        ("ar", 1200, f"{LRI}\u200f12.00\xa0US${PDI}"),
        ("ar", 1234567, f"{LRI}\u200f12,345.67\xa0US${PDI}"),
        ("fa", 1200, f"{LRI}\u200e$\xa012.00{PDI}"),
    ],
)
def test_money_is_isolated_in_right_to_left_languages(
    language: str, cents: int, expected: str
) -> None:
    assert Translator(language).money(cents) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("The code: <code>{code}</code>", f"The code: {LRI}<code>{{code}}</code>{PDI}"),
        (
            "Keys start with <code>jm_</code>, see <code>a</code>.",
            f"Keys start with {LRI}<code>jm_</code>{PDI}, see {LRI}<code>a</code>{PDI}.",
        ),
        ("Link one with /link.", f"Link one with {LRI}/link{PDI}."),
        ("/buy to get a number, /help", f"{LRI}/buy{PDI} to get a number, {LRI}/help{PDI}"),
        ("jiema.my/app and 1/2, <b>x</b>", "jiema.my/app and 1/2, <b>x</b>"),  # no commands
        ("(/start) «/help»", f"({LRI}/start{PDI}) «{LRI}/help{PDI}»"),
    ],
)
def test_translations_isolate_code_and_commands_in_rtl(message: str, expected: str) -> None:
    ar, en = Translator("ar"), get_translator("en")
    assert ar.gettext(message) == expected
    assert ar.ngettext(message, message, 2) == expected
    assert en.gettext(message) == message
    assert _shown(ar.gettext(message)).count(LRI) == 0


def test_isolated_code_and_commands_show_intact() -> None:
    ar = Translator("ar")
    assert _shown("المفتاح يبدأ بـ <code>jm_</code>") == "_jm ـب أدبي حاتفملا"
    assert _shown(ar.gettext("المفتاح يبدأ بـ <code>jm_</code>")) == "jm_ ـب أدبي حاتفملا"
    assert _shown("أرسل /link") == "link/ لسرأ"
    assert _shown(ar.gettext("أرسل /link")) == "/link لسرأ"


def _shown(html: str) -> str:
    """How a message in Telegram HTML shows, each line as the screen reads it left to right.

    Like Telegram's clients, python-bidi gives each line the direction of its first strong
    character (left to right if it has none) and runs the Unicode Bidirectional Algorithm,
    isolates included; invisible marks are dropped from the result.
    """
    lines = [get_display(line) for line in parse_html(html)[0].split("\n")]
    return "".join(char for char in "\n".join(lines) if unicodedata.category(char) != "Cf")


def test_isolated_values_show_intact_in_right_to_left_text() -> None:
    ar = Translator("ar")
    phone, code = "+60126856518", "G-48213"
    # Bare, the plus sign of a phone number moves to its end, and a code's dash flips.
    assert _shown(f"{RLM}📱 {phone}") == "60126856518+ 📱"
    assert _shown(ar.align(f"📱 {ar.ltr(phone)}")) == f"{phone} 📱"
    assert _shown(f"الرمز: {ar.ltr(code)}") == f"{code} :زمرلا"
    # Both orders of the bare CLDR amount break: "$US", or the stock glued to the price.
    assert _shown("ماليزيا · \u200f0.41\xa0US$ · 540 متبقية").count("US$ · 540") == 1
    assert "$US" in _shown("السعر: \u200f0.41\xa0US$")
    for t, amount in [(ar, "0.41\xa0US$"), (Translator("fa"), "$\xa00.41")]:
        shown = _shown(f"ماليزيا · {t.money(41)} · 540 متبقية")
        assert shown == f"ةيقبتم 540 · {amount} · ايزيلام"  # read right to left: name, price, stock


# --- label width ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("Copy number", 11),
        ("复制号码", 8),  # Wide
        ("ＡＢ", 4),  # Fullwidth
        ("번호 복사", 9),
        ("コピー", 6),
        ("📱 Buy", 6),  # an emoji is 2
        ("🇲🇾", 2),  # a flag: two regional indicators
        ("ℹ️", 2),  # a text symbol with VARIATION SELECTOR-16 shows as an emoji
        ("✓ Italiano", 10),
        ("คัดลอก", 5),  # the Thai vowel sign above (a combining mark) takes no column
        ("é", 1),  # e + COMBINING ACUTE ACCENT
        ("نُسخ", 3),  # an Arabic vowel mark takes no column
        (f"{LRI}48213{PDI}", 5),  # isolates are invisible
    ],
)
def test_label_width(text: str, expected: int) -> None:
    assert label_width(text) == expected


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "cents", "expected"),
    [
        ("en", 1200, "$12.00"),
        ("en", 1234567, "$12,345.67"),
        ("en", -1234567, "-$12,345.67"),
        ("en", 5, "$0.05"),
        ("es", 1200, "12,00\xa0US$"),
        ("it", 1200, "12,00\xa0USD"),
        ("pt", 1200, "US$\xa012,00"),
        ("pt", 1234567, "US$\xa012.345,67"),
        ("ru", 1200, "12,00\xa0$"),
        ("ru", 1234567, "12\xa0345,67\xa0$"),
        ("pl", 1234567, "12\xa0345,67\xa0USD"),
        ("zh_Hans", 1200, "US$12.00"),
    ],
)
def test_money(language: str, cents: int, expected: str) -> None:
    assert get_translator(language).money(cents) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "1,234,567"),
        ("es", "1.234.567"),
        ("it", "1.234.567"),
        ("pt", "1.234.567"),
        ("ru", "1\xa0234\xa0567"),
        ("zh_Hans", "1,234,567"),
    ],
)
def test_number(language: str, expected: str) -> None:
    assert get_translator(language).number(1234567) == expected


def test_remembered_amounts_stay_each_languages_own() -> None:
    """Formatted amounts are remembered per language: asked again, each language still
    formats as its own (and as a fresh translator would)."""
    for _ in range(2):
        for language in ("en", "ru", "pt"):
            fresh = Translator(language)
            assert get_translator(language).money(1234567) == fresh.money(1234567)
            assert get_translator(language).number(1234567) == fresh.number(1234567)
    assert len({get_translator(lang).money(1200) for lang in ("en", "ru", "pt")}) == 3


@pytest.mark.parametrize(
    ("language", "seconds", "expected"),
    [
        ("en", 0, "0 seconds"),
        ("en", 1, "1 second"),
        ("en", 45, "45 seconds"),
        ("en", -45, "45 seconds"),
        ("en", 55, "1 minute"),
        ("en", 1140, "19 minutes"),
        ("en", 1140.4, "19 minutes"),
        ("en", 7200, "2 hours"),
        ("ru", 1140, "19 минут"),
        ("ru", 1260, "21 минута"),
        ("ru", 120, "2 минуты"),
        ("pl", 60, "1 minuta"),
        ("pl", 120, "2 minuty"),
        ("pl", 1260, "21 minut"),
        ("pl", 1320, "22 minuty"),
        ("es", 1140, "19 minutos"),
        ("it", 60, "1 minuto"),
        ("pt", 0, "0 segundo"),
        ("pt", 45, "45 segundos"),
        ("zh_Hans", 1140, "19分钟"),
    ],
)
def test_duration(language: str, seconds: float, expected: str) -> None:
    assert get_translator(language).duration(seconds) == expected


NAIVE_UTC = datetime(2025, 1, 2, 15, 4, 5)  # naive: taken as UTC
MALAYSIA = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Jan 2, 2025, 3:04:05\u202fPM"),
        ("es", "2 ene 2025, 15:04:05"),
        ("it", "2 gen 2025, 15:04:05"),
        ("pt", "2 de jan. de 2025 15:04:05"),
        ("ru", "2 янв. 2025\u202fг., 15:04:05"),
        ("zh_Hans", "2025年1月2日 15:04:05"),
    ],
)
def test_datetime_defaults_to_medium_in_utc(language: str, expected: str) -> None:
    t = get_translator(language)
    assert t.datetime(NAIVE_UTC) == expected
    assert t.datetime(NAIVE_UTC.replace(tzinfo=UTC)) == expected
    assert t.datetime(NAIVE_UTC.replace(tzinfo=UTC).astimezone(MALAYSIA)) == expected


def test_datetime_in_a_time_zone_and_style() -> None:
    en, ru = get_translator("en"), get_translator("ru")
    assert en.datetime(NAIVE_UTC, MALAYSIA, style="short") == "1/2/25, 11:04\u202fPM"
    assert ru.datetime(NAIVE_UTC, MALAYSIA, style="short") == "02.01.2025, 23:04"
    assert en.datetime(NAIVE_UTC, style="long") == "January 2, 2025, 3:04:05\u202fPM UTC"


@pytest.mark.parametrize(
    ("language", "slug", "expected"),
    [
        ("en", "my", "Malaysia"),
        ("en", "MY", "Malaysia"),
        ("zh_Hans", "my", "马来西亚"),
        ("ru", "my", "Малайзия"),
        ("es", "my", "Malasia"),
        ("pt", "my", "Malásia"),
        ("it", "my", "Malaysia"),
        ("ru", "gb", "Великобритания"),
        ("en", "xx", "API name"),  # not an ISO code Babel knows
        ("ru", "usa", "API name"),
        ("ru", "", "API name"),
        ("ru", "419", "API name"),  # a UN M.49 region, not a country
        ("en", "m1", "API name"),
    ],
)
def test_country(language: str, slug: str, expected: str) -> None:
    assert get_translator(language).country(slug, "API name") == expected


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("my", "\U0001f1f2\U0001f1fe"),
        ("MY", "🇲🇾"),
        ("gb", "🇬🇧"),
        ("us", "🇺🇸"),
        ("", ""),
        ("usa", ""),
        ("m", ""),
        ("1a", ""),
        ("é1", ""),
        ("ñu", ""),
    ],
)
def test_flag(slug: str, expected: str) -> None:
    assert flag(slug) == expected


# --- catalogs ---------------------------------------------------------------------------------


def test_template_is_up_to_date_with_the_sources() -> None:
    """``locales/messages.pot`` holds exactly what ``pybabel extract -F babel.cfg`` finds."""
    with (PROJECT_ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    extracted = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map
    ):
        extracted.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    template = _read_catalog(TEMPLATE)
    assert {(m.id, m.context) for m in template if m.id} == {
        (m.id, m.context) for m in extracted if m.id
    }, "run the extract and update commands of the README"


def test_template_placeholders_are_named_and_consistent() -> None:
    problems = []
    for message in _read_catalog(TEMPLATE):
        if not message.id:
            continue
        ids = _ids(message)
        names = [_placeholders(text) for text in ids]
        if any(not name or name.isdigit() for name in set().union(*names)):
            problems.append(f"{message.id!r}: use named placeholders such as {{count}}")
        if not names[0] <= names[-1]:
            problems.append(f"{message.id!r}: the plural msgid lacks placeholders of the singular")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_translates_every_message(language: str) -> None:
    catalog = _read_catalog(_po_path(language))
    assert str(catalog.locale) == language
    problems = _catalog_problems(catalog, _read_catalog(TEMPLATE))
    assert not problems, f"{_po_path(language)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_plural_forms_header_agrees_with_cldr(language: str) -> None:
    """The gettext plural rule picks form i exactly where CLDR has its i-th integer category."""
    catalog = _read_catalog(_po_path(language))
    cldr = Locale.parse(language).plural_form
    categories = sorted({cldr(n) for n in PLURAL_SAMPLE}, key=CLDR_PLURAL_ORDER.index)
    rule = c2py(catalog.plural_expr)
    assert catalog.num_plurals == len(categories)
    assert [rule(n) for n in PLURAL_SAMPLE] == [categories.index(cldr(n)) for n in PLURAL_SAMPLE]


@pytest.mark.parametrize("language", TRANSLATED)
def test_compiled_catalog_matches_the_po_file(language: str) -> None:
    """The ``.mo`` the bot reads is up to date: re-run ``pip install -e .`` if this fails."""
    catalog = _read_catalog(_po_path(language))
    rule = c2py(catalog.plural_expr)
    t = get_translator(language)

    def bare(text: str) -> str:  # without the isolates RTL translations get (tested above)
        return text.replace(LRI, "").replace(PDI, "")

    for message in catalog:
        if not message.id or message.fuzzy or not all(_forms(message)):
            continue
        if isinstance(message.id, str):
            assert bare(t.gettext(message.id)) == message.string
            continue
        singular, plural = message.id[0], message.id[1]
        for form, text in enumerate(_forms(message)):
            n = next(n for n in PLURAL_SAMPLE if rule(n) == form)
            assert bare(t.ngettext(singular, plural, n)) == text


@pytest.mark.parametrize(
    ("seconds", "unit"),
    [
        (1, "sekundę"),
        (2, "sekundy"),
        (4, "sekundy"),
        (5, "sekund"),
        (12, "sekund"),
        (22, "sekundy"),
        (25, "sekund"),
        (102, "sekundy"),
        (112, "sekund"),
    ],
)
def test_polish_plurals_follow_cldr(seconds: int, unit: str) -> None:
    """Polish has three integer forms: 1; 2-4, 22-24, ... but not 12-14; everything else."""
    text = get_translator("pl").ngettext(
        "Too many requests. Please wait {seconds} second and try again.",
        "Too many requests. Please wait {seconds} seconds and try again.",
        seconds,
    )
    assert f"{{seconds}} {unit} " in text
