"""Internationalisation: language negotiation, gettext catalogs and locale-aware formatting.

English is the source language and has no catalog. Every other language is a gettext catalog
``locales/<code>/LC_MESSAGES/messages.po`` whose directory name ``<code>`` is a canonical Babel
locale identifier (``str(babel.Locale.parse(code))``, e.g. ``ru``, ``pt``, ``zh_Hans``); adding
a language is adding a catalog. The build hook compiles the catalogs to ``.mo`` on
``pip install -e .``, and this module reads the compiled files.

Messages use ``str.format`` brace placeholders and callers format them::

    t = get_translator(negotiate(user.language_code))
    t._("Balance: {balance}").format(balance=t.money(cents))
    t.ngettext("{count} number", "{count} numbers", n).format(count=t.number(n))

Strings defined at import time (button labels) are marked with `N_` and translated when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta, tzinfo
from datetime import datetime as DateTime
from decimal import Decimal
from functools import cache
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.core import parse_locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal

SOURCE_LANGUAGE: Final = "en"
"""The language the messages are written in; also the default."""

DOMAIN: Final = "messages"
"""The gettext domain: catalogs are ``<code>/LC_MESSAGES/messages.po`` (and ``.mo``)."""

LOCALE_DIR: Final = Path(__file__).resolve().parent.parent / "locales"
"""The catalog directory, ``locales/`` at the project root."""

CURRENCY: Final = "USD"
"""The currency of every amount the API reports."""

_DURATION_THRESHOLD: Final = 0.85
"""Switch to the next larger unit at 85 % of it: 45 s stays "45 seconds", 55 s is "1 minute"."""

_REGIONAL_INDICATOR_A: Final = 0x1F1E6
"""REGIONAL INDICATOR SYMBOL LETTER A; two of these letters spell a country's flag."""


def _native_name(code: str) -> str:
    """Return a language's name in itself, capitalised, from the CLDR data shipped with Babel.

    CLDR's language-name table is consulted first because it names some script variants as a
    whole (``zh_Hans`` is "简体中文" where the composed display name is "中文 (简体)").

    Args:
        code: A Babel locale identifier.

    Returns:
        The name, e.g. "Русский" for ``ru``.
    """
    locale = Locale.parse(code)
    name = locale.languages.get(code) or locale.get_display_name() or code
    return name[:1].upper() + name[1:]


_CATALOGS: Final = frozenset(
    path.parents[1].name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
)
"""The codes of the languages that have a catalog."""

LANGUAGES: Final[Mapping[str, str]] = MappingProxyType(
    {code: _native_name(code) for code in (SOURCE_LANGUAGE, *sorted(_CATALOGS))}
)
"""Our language codes mapped to each language's name in itself.

The source language comes first, then the languages that have a catalog, sorted by code.
"""


def _parse_tag(tag: str) -> Locale | None:
    """Parse an IETF language tag (``-`` or ``_`` separated) into a Babel locale.

    Babel fills in the script where it is implied (``zh-TW`` is ``zh_Hant_TW``). When the whole
    tag is not understood (private-use or unknown subtags), its primary language subtag is tried.

    Args:
        tag: The tag, e.g. ``pt-br`` or ``zh-hans``.

    Returns:
        The locale, or None when not even the primary language subtag is a known language.
    """
    tag = tag.replace("_", "-")
    for candidate in (tag, tag.partition("-")[0]):
        try:
            return Locale.parse(candidate, sep="-")
        except (ValueError, UnknownLocaleError):
            continue
    return None


def negotiate(language_code: str | None) -> str:
    """Choose our language for a Telegram user's ``language_code``.

    The most specific language we have wins: ``pt-br`` gets ``pt``, ``zh-CN`` and ``zh-hans``
    get ``zh_Hans``. A language we have in another script only gets that one rather than the
    source language (``zh-hant`` gets ``zh_Hans`` while there is no ``zh_Hant`` catalog).
    Our own codes map to themselves, so stored choices can be passed through again.

    Args:
        language_code: An IETF language tag such as ``en-US``; None or garbage is tolerated.

    Returns:
        A key of `LANGUAGES`; `SOURCE_LANGUAGE` when nothing matches.
    """
    requested = _parse_tag(language_code) if language_code else None
    if requested is None:
        return SOURCE_LANGUAGE
    preferred = [str(requested)]
    if requested.script:
        preferred.append(f"{requested.language}_{requested.script}")
    # Exact match first, then Babel drops everything after the language subtag.
    match = negotiate_locale(preferred, LANGUAGES, aliases={})
    if match is not None:
        return match
    return next(
        (code for code in LANGUAGES if parse_locale(code)[0] == requested.language),
        SOURCE_LANGUAGE,
    )


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet.

    Args:
        message: The source text, e.g. a button label defined at import time.

    Returns:
        The message unchanged; translate it when used with `Translator.gettext`.
    """
    return message


def _alpha2(slug: str) -> str | None:
    """Return ``slug`` upper-cased if it is a two-letter ISO 3166-1 code, else None."""
    code = slug.upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def flag(slug: str) -> str:
    """Return the flag emoji of a country.

    Args:
        slug: A two-letter ISO 3166-1 country code in any case, e.g. ``my``.

    Returns:
        The pair of regional indicator symbols (``🇲🇾``); an empty string for anything that
        is not two ASCII letters.
    """
    code = _alpha2(slug)
    if code is None:
        return ""
    return "".join(chr(_REGIONAL_INDICATOR_A + ord(letter) - ord("A")) for letter in code)


def _load_catalog(language: str) -> NullTranslations:
    """Load the compiled catalog of a language.

    Args:
        language: A key of `LANGUAGES`.

    Returns:
        The catalog; a catalog-less translations object (source text) for the source language.

    Raises:
        FileNotFoundError: The language has a ``.po`` file that has not been compiled.
    """
    if language not in _CATALOGS:
        return NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    try:
        with path.open("rb") as mo_file:
            return GNUTranslations(mo_file)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{path} is missing; compile the catalogs with `pip install -e .`"
        ) from exc


class Translator:
    """Messages and locale-aware formatting in one language.

    Get instances from `get_translator`. Unknown messages come back as their source text.

    Attributes:
        language: Our language code, a key of `LANGUAGES`.
        locale: The Babel locale used for formatting.
    """

    __slots__ = ("_catalog", "language", "locale")

    def __init__(self, language: str) -> None:
        """Load the catalog of ``language``.

        Args:
            language: A key of `LANGUAGES`.

        Raises:
            FileNotFoundError: The language's catalog has not been compiled.
        """
        self.language = language
        self.locale = Locale.parse(language)
        self._catalog = _load_catalog(language)

    def gettext(self, message: str) -> str:
        """Translate a message.

        Args:
            message: The English source text, possibly with ``{name}`` placeholders.

        Returns:
            The translation, or ``message`` itself if the catalog lacks it.
        """
        return self._catalog.gettext(message)

    _ = gettext

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Translate a message whose form depends on a number.

        Args:
            singular: The English text for one, e.g. ``"{count} number"``.
            plural: The English text for other counts, e.g. ``"{count} numbers"``.
            n: The number that selects the plural form (the caller still formats it in).

        Returns:
            The form of the translation for ``n``, or the English form if the catalog lacks it.
        """
        return self._catalog.ngettext(singular, plural, n)

    def money(self, cents: int) -> str:
        """Format an amount of US cents as currency, e.g. ``$12.00`` or ``12,00 $``."""
        return format_currency(Decimal(cents) / 100, CURRENCY, locale=self.locale)

    def number(self, n: int) -> str:
        """Format an integer with the locale's digit grouping, e.g. ``1,234`` or ``1 234``."""
        return format_decimal(n, locale=self.locale)

    def duration(self, seconds: float) -> str:
        """Format a duration in its largest sensible unit, e.g. "19 minutes" or "45 seconds".

        Args:
            seconds: The length of the duration; its sign is ignored.

        Returns:
            The rounded duration; seconds are the smallest unit.
        """
        return format_timedelta(
            timedelta(seconds=seconds),
            granularity="second",
            threshold=_DURATION_THRESHOLD,
            locale=self.locale,
        )

    def datetime(
        self,
        value: DateTime,
        tz: tzinfo | None = None,
        *,
        style: Literal["short", "medium", "long", "full"] = "medium",
    ) -> str:
        """Format a point in time, e.g. "Jan 2, 2025, 3:04:05 PM".

        Args:
            value: The time; naive values are taken to be UTC.
            tz: The time zone to show it in; UTC if None.
            style: Babel's format length; "long" and "full" include the time zone.

        Returns:
            The formatted date and time.
        """
        return format_datetime(value, style, tzinfo=tz or UTC, locale=self.locale)

    def country(self, slug: str, fallback: str) -> str:
        """Name a country in this language.

        Args:
            slug: A two-letter ISO 3166-1 country code in any case, e.g. ``my``.
            fallback: The name to use when Babel does not know the code (e.g. the API's).

        Returns:
            The localized name, e.g. "Малайзия", or ``fallback``.
        """
        code = _alpha2(slug)
        if code is None:
            return fallback
        return self.locale.territories.get(code, fallback)


@cache
def get_translator(language: str) -> Translator:
    """Return the shared translator of a language.

    Args:
        language: A key of `LANGUAGES`, e.g. from `negotiate`.

    Returns:
        The translator, created on first use.

    Raises:
        ValueError: ``language`` is not one of ours.
        FileNotFoundError: The language's catalog has not been compiled.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one with negotiate()")
    return Translator(language)
