"""Tests of `bot.i18n` against the real catalogs under ``locales/`` (no mocks).

The compiled ``.mo`` files come from ``pip install -e .``.

Catalog rules enforced here, for every language but the source one and every message of
``locales/messages.pot``: the translation exists, is not empty and not fuzzy, and uses exactly
the brace placeholders of the msgid. For plural messages every form must use exactly the
placeholders of the plural msgid: no form may drop ``{count}``, because in e.g. Russian the
"singular" form also serves 21, 31, ... Placeholders must be named (``{balance}``, not ``{}``).
"""

from __future__ import annotations

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

from bot.i18n import (
    DOMAIN,
    LANGUAGES,
    LOCALE_DIR,
    N_,
    SOURCE_LANGUAGE,
    flag,
    get_translator,
    negotiate,
)

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
    return message.string if isinstance(message.string, tuple) else (message.string,)


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
        wanted = _placeholders(expected.id[-1] if expected.pluralizable else expected.id)
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


def test_languages_are_the_source_language_then_the_catalogs_by_code() -> None:
    assert list(LANGUAGES.items()) == [
        ("en", "English"),
        ("es", "Español"),
        ("it", "Italiano"),
        ("pt", "Português"),
        ("ru", "Русский"),
        ("zh_Hans", "简体中文"),
    ]


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
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh", "zh_Hans"),
        # No Traditional Chinese catalog: Simplified is closer than English.
        ("zh-hant", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("pt-br", "pt"),
        ("pt", "pt"),
        ("pt-PT", "pt"),
        ("it", "it"),
        ("it-CH", "it"),
        ("es", "es"),
        ("es-419", "es"),
        ("es-MX", "es"),
        ("en-US-x-twain", "en"),  # not parseable as a whole: the primary subtag decides
        ("ru-x-private", "ru"),
        ("uk", "en"),  # a language we do not have
        ("fr-CA", "en"),
        (None, "en"),
        ("", "en"),
        ("x", "en"),
        ("garbage!!", "en"),
        ("123", "en"),
    ],
)
def test_negotiate(language_code: str | None, expected: str) -> None:
    assert negotiate(language_code) == expected


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_negotiate_maps_our_codes_to_themselves(language: str) -> None:
    assert negotiate(language) == language


# --- translators ------------------------------------------------------------------------------


def test_get_translator_shares_one_translator_per_language() -> None:
    assert get_translator("ru") is get_translator("ru")
    assert get_translator("ru").language == "ru"
    assert get_translator("zh_Hans").locale == Locale("zh", script="Hans")


@pytest.mark.parametrize("language", ["zh-hans", "fr", ""])
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
        ids = message.id if message.pluralizable else (message.id,)
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
    for message in catalog:
        if not message.id or message.fuzzy or not all(_forms(message)):
            continue
        if not message.pluralizable:
            assert t.gettext(message.id) == message.string
            continue
        singular, plural = message.id[0], message.id[1]
        for form, text in enumerate(message.string):
            n = next(n for n in PLURAL_SAMPLE if rule(n) == form)
            assert t.ngettext(singular, plural, n) == text
