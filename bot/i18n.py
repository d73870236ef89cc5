"""Internationalisation: language negotiation, gettext catalogs and locale-aware formatting.

English is the source language and has no catalog. Every other language is a gettext catalog
``locales/<code>/LC_MESSAGES/messages.po`` whose directory name ``<code>`` is a canonical Babel
locale identifier (``str(babel.Locale.parse(code))``, e.g. ``ru``, ``pt``, ``zh_Hans``); adding
a language is adding a catalog. The build hook (``hatch_build.py``) compiles the catalogs to
``.mo``: next to their ``.po`` files for an editable install, into the package
(``bot/locales/``) for a wheel; this module reads the compiled files from the package if they
are there, else from the source tree.

Messages use ``str.format`` brace placeholders and callers format them::

    t = get_translator(negotiate(user.language_code))
    t._("Balance: {balance}").format(balance=t.money(cents))
    t.ngettext("{count} number", "{count} numbers", n).format(count=t.number(n))

Strings defined at import time (button labels) are marked with `N_` and translated when used.

Right-to-left languages (Arabic, Persian): Telegram lays a line out right to left when its
first strong character is right-to-left, and the Unicode bidirectional algorithm then reorders
runs of digits and Latin letters by their neighbours, so ``+60126856518`` can show as
``60126856518+``, ``jm_`` as ``_jm``, ``/link`` as ``link/``, and a price can trade places
with the number next to it. So, in those languages only: `Translator.ltr` wraps a value in
directional isolates; `Translator.money` isolates every amount itself; translations come with
their ``<code>`` spans and /commands isolated; and `Translator.align` makes every line of a
message right to left (a line may start with a Latin service name or no letter at all).
Isolates go into visible text only: copy buttons, callback data and the ``<code>`` a user taps
to copy carry the bare value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, timedelta, tzinfo
from datetime import datetime as DateTime
from decimal import Decimal
from functools import cache, lru_cache
from gettext import GNUTranslations, NullTranslations
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.core import get_global, parse_locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent

SOURCE_LANGUAGE: Final = "en"
"""The language the messages are written in; also the default."""

DOMAIN: Final = "messages"
"""The gettext domain: catalogs are ``<code>/LC_MESSAGES/messages.po`` (and ``.mo``)."""

_PACKAGED_LOCALE_DIR: Final = Path(__file__).resolve().parent / "locales"
"""Where a wheel puts the compiled catalogs: ``bot/locales/`` (``.mo`` files only)."""

LOCALE_DIR: Final = (
    _PACKAGED_LOCALE_DIR
    if _PACKAGED_LOCALE_DIR.is_dir()
    else Path(__file__).resolve().parent.parent / "locales"
)
"""The catalog directory: the package's own in an installed wheel, else ``locales/`` at the
project root (a source checkout or an editable install), where the ``.po`` sources live."""

CURRENCY: Final = "USD"
"""The currency of every amount the API reports."""

_DURATION_THRESHOLD: Final = 0.85
"""Switch to the next larger unit at 85 % of it: 45 s stays "45 seconds", 55 s is "1 minute"."""

_REGIONAL_INDICATOR_A: Final = 0x1F1E6
"""REGIONAL INDICATOR SYMBOL LETTER A; two of these letters spell a country's flag."""

LRI: Final = "\u2066"
"""LEFT-TO-RIGHT ISOLATE: what follows, up to `PDI`, is laid out left to right on its own."""

PDI: Final = "\u2069"
"""POP DIRECTIONAL ISOLATE: ends the isolate opened by `LRI`."""

RLM: Final = "\u200f"
"""RIGHT-TO-LEFT MARK: an invisible right-to-left letter that sets a line's direction."""

_EMOJI_STYLE: Final = "\ufe0f"
"""VARIATION SELECTOR-16: shows the symbol before it as an emoji (two columns wide)."""

_LTR_SPANS: Final = re.compile(r"<code>.*?</code>|(?<![^\s(«“\"'])/[a-z][a-z0-9_]*", re.DOTALL)
"""What a message holds that is always left to right: ``<code>`` spans and /commands.

A command starts a line or follows a space or an opening quote or parenthesis (so the ``/b``
of ``</b>`` and the ``/app`` of ``jiema.my/app`` are not commands).
"""

_QUOTE_OPEN: Final = re.compile(r"<(?:blockquote|pre)\b")
_QUOTE_CLOSE: Final = re.compile(r"</(?:blockquote|pre)>")
"""Where quoted text, laid out in its own direction, starts and ends (see `Translator.align`)."""

_NATIVE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"id": "Bahasa Indonesia", "ms": "Bahasa Melayu"}
)
"""Names CLDR gives differently from how the languages name themselves in a language menu.

CLDR calls Indonesian and Malay "Indonesia" and "Melayu", which read as the countries; their
speakers (and jiema.my) say "Bahasa Indonesia" and "Bahasa Melayu".
"""

_TELEGRAM_LANGUAGE_CODES: Final[Mapping[str, str]] = MappingProxyType({"fil": "tl"})
"""Our languages whose command menu code is not the locale's language subtag.

``setMyCommands`` takes a two-letter ISO 639-1 code and refuses anything else ("invalid
language code specified"); Filipino has no ISO 639-1 code of its own, Tagalog's ``tl`` is the
one standing for it.
"""


def _native_name(code: str) -> str:
    """Return a language's name in itself, capitalised, from the CLDR data shipped with Babel.

    CLDR's language-name table is consulted first because it names some script variants as a
    whole (``zh_Hans`` is "简体中文" where the composed display name is "中文 (简体)").

    Args:
        code: A Babel locale identifier.

    Returns:
        The name, e.g. "Русский" for ``ru``.
    """
    if code in _NATIVE_NAMES:
        return _NATIVE_NAMES[code]
    locale = Locale.parse(code)
    name = locale.languages.get(code) or locale.get_display_name() or code
    return name[:1].upper() + name[1:]


def available_languages(locale_dir: Path) -> Mapping[str, str]:
    """Find the languages that have a catalog in ``locale_dir``, and name them.

    Args:
        locale_dir: A directory laid out as ``<code>/LC_MESSAGES/messages.po`` (a source
            tree) or ``<code>/LC_MESSAGES/messages.mo`` (an installed wheel's).

    Returns:
        Our language codes mapped to each language's name in itself: the source language
        first, then the languages that have a catalog, sorted by code.
    """
    catalogs = {
        path.parents[1].name
        for suffix in ("po", "mo")
        for path in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.{suffix}")
    }
    codes = (SOURCE_LANGUAGE, *sorted(catalogs - {SOURCE_LANGUAGE}))
    return MappingProxyType({code: _native_name(code) for code in codes})


LANGUAGES: Final[Mapping[str, str]] = available_languages(LOCALE_DIR)
"""Our language codes mapped to each language's name in itself (see `available_languages`)."""

_CATALOGS: Final = frozenset(LANGUAGES) - {SOURCE_LANGUAGE}
"""The codes of the languages that have a catalog."""


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


def _script(locale: Locale) -> str | None:
    """Return the script a locale is written in: its own, else CLDR's likely one for it.

    ``zh`` and ``zh-SG`` are written in Simplified characters, ``zh-HK`` in Traditional ones;
    Babel only fills in the script for some tags, CLDR's likely subtags know it for all.
    """
    if locale.script:
        return locale.script
    likely: Mapping[str, str] = get_global("likely_subtags")
    for tag in (f"{locale.language}_{locale.territory}", locale.language):
        if tag in likely:
            return parse_locale(likely[tag])[2]
    return None


def negotiate(language_code: str | None, languages: Collection[str] = LANGUAGES) -> str:
    """Choose our language for a Telegram user's ``language_code``.

    The most specific language we have wins: ``pt-br`` gets ``pt``; ``zh``, ``zh-CN``,
    ``zh-SG`` and ``zh-hans`` get ``zh_Hans``; ``zh-hant``, ``zh-TW``, ``zh-HK`` and ``zh-MO``
    get ``zh_Hant``. CLDR's aliases apply, so ``tl`` is Filipino (``fil``) and the legacy
    ``in`` is Indonesian (``id``). A language we have only in another script gets that one
    rather than the source language. Our own codes map to themselves, so stored choices can be
    passed through again.

    Args:
        language_code: An IETF language tag such as ``en-US``; None or garbage is tolerated.
        languages: The codes to choose from; `LANGUAGES` unless testing other catalogs.

    Returns:
        One of ``languages``; `SOURCE_LANGUAGE` when nothing matches.
    """
    if languages is LANGUAGES:
        return _negotiate_ours(language_code)
    return _negotiate(language_code, languages)


@lru_cache(maxsize=1024)
def _negotiate_ours(language_code: str | None) -> str:
    """`negotiate` among `LANGUAGES`, remembered: it runs for every update (~15 µs uncached)."""
    return _negotiate(language_code, LANGUAGES)


def _negotiate(language_code: str | None, languages: Collection[str]) -> str:
    requested = _parse_tag(language_code) if language_code else None
    if requested is None:
        return SOURCE_LANGUAGE
    preferred = [str(requested)]
    script = _script(requested)
    if script:
        preferred.append(f"{requested.language}_{script}")
    # Exact match first, then Babel drops everything after the language subtag.
    match = negotiate_locale(preferred, languages, aliases={})
    if match is not None:
        return match
    return next(
        (code for code in languages if parse_locale(code)[0] == requested.language),
        SOURCE_LANGUAGE,
    )


def command_menu_languages(
    languages: Collection[str] = LANGUAGES,
) -> list[tuple[str | None, str]]:
    """Pair each Telegram command-menu language code with the language to register there.

    ``setMyCommands`` takes ``language_code`` as two lowercase ISO 639-1 letters (or none, for
    users whose language has no menu of its own), and Telegram picks the menu by the user's
    app language. Hence: the source language is the default menu (``None``); Filipino is
    registered as ``tl``; and one code that two of our languages share (``zh`` for Simplified
    and Traditional Chinese) goes to the first of them by code (Simplified). Users whose app
    would show them another language's menu get theirs per chat, see
    `needs_chat_command_menu`.

    Args:
        languages: Our codes, in order; `LANGUAGES` unless testing other catalogs.

    Returns:
        ``(telegram code or None, our language)`` pairs, one per distinct code, in order.
    """
    menus: dict[str | None, str] = {}
    for language in languages:
        code = _telegram_language_code(language)
        menus.setdefault(code, language)
    return list(menus.items())


def _telegram_language_code(language: str) -> str | None:
    """The ISO 639-1 code Telegram matches ``language`` by; None for the source language."""
    if language == SOURCE_LANGUAGE:
        return None
    return _TELEGRAM_LANGUAGE_CODES.get(language, parse_locale(language)[0])


def needs_chat_command_menu(
    language_code: str | None, language: str, languages: Collection[str] = LANGUAGES
) -> bool:
    """Whether a user's app would show a command menu that is not in their language.

    Telegram picks among the menus of `command_menu_languages` by the app's language code
    (its primary subtag, as the menus are registered by two letters; the default menu when
    none matches). That is another language for some users: ``zh-hant`` apps get the
    Simplified ``zh`` menu, a ``fil`` app the default one, and anyone who chose a language
    with /language gets the menu of their app's. For them the bot sets the menu in their
    chat (``BotCommandScopeChat``).

    Args:
        language_code: The user's Telegram ``language_code``, e.g. ``zh-hant``; may be None.
        language: The user's language, one of ``languages``.
        languages: Our codes; `LANGUAGES` unless testing other catalogs.

    Returns:
        True if the menu Telegram would show is not ``language``'s.
    """
    menus = dict(command_menu_languages(languages))
    subtag = (language_code or "").replace("_", "-").partition("-")[0].lower()
    return menus.get(subtag, menus[None]) != language


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet.

    Args:
        message: The source text, e.g. a button label defined at import time.

    Returns:
        The message unchanged; translate it when used with `Translator.gettext`.
    """
    return message


def label_width(text: str) -> int:
    """Estimate how many columns ``text`` takes in a monospaced-like phone layout.

    East Asian Wide and Fullwidth characters and emoji count 2, combining and other zero-width
    characters (marks, joiners, variation selectors, directional isolates) 0, others 1. An
    emoji written as a symbol plus VARIATION SELECTOR-16 counts 2; a flag (two regional
    indicators) counts 2. Used to keep button labels within what a phone shows uncut.

    Args:
        text: A label, e.g. "Copy number" or "复制号码".

    Returns:
        The width in columns.
    """
    width = 0
    for char, following in pairwise(f"{text} "):
        if unicodedata.category(char) in ("Mn", "Me", "Cf") or 0xFE00 <= ord(char) <= 0xFE0F:
            continue
        wide = unicodedata.east_asian_width(char) in ("W", "F") or following == _EMOJI_STYLE
        width += 2 if wide else 1
    return width


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


_FORMATS_KEPT: Final = 4096
"""Formatted amounts (and numbers) each language remembers at most."""


class Translator:
    """Messages and locale-aware formatting in one language.

    Get instances from `get_translator`. Unknown messages come back as their source text.

    Attributes:
        language: Our language code, a key of `LANGUAGES`.
        locale: The Babel locale used for formatting.
        rtl: Whether the language is written right to left (Arabic, Persian), as CLDR says.
    """

    __slots__ = ("_catalog", "language", "locale", "money", "number", "rtl")

    money: Callable[[int], str]
    """`_money`, remembered (amounts recur: the same prices for every user)."""
    number: Callable[[int], str]
    """`_number`, remembered (stock counts recur likewise)."""

    def __init__(self, language: str) -> None:
        """Load the catalog of ``language``.

        Args:
            language: A key of `LANGUAGES`.

        Raises:
            FileNotFoundError: The language's catalog has not been compiled.
        """
        self.language = language
        self.locale = Locale.parse(language)
        self.rtl = self.locale.character_order == "right-to-left"
        self._catalog = _load_catalog(language)
        # Babel takes 5-11 us per amount; a page of services or countries shows a dozen.
        self.money = lru_cache(maxsize=_FORMATS_KEPT)(self._money)
        self.number = lru_cache(maxsize=_FORMATS_KEPT)(self._number)

    def gettext(self, message: str) -> str:
        """Translate a message.

        Args:
            message: The English source text, possibly with ``{name}`` placeholders.

        Returns:
            The translation, or ``message`` itself if the catalog lacks it; in right-to-left
            languages with each ``<code>...</code>`` and /command isolated (outside the tag,
            so a tap on the code copies it bare).
        """
        return self._isolate_spans(self._catalog.gettext(message))

    _ = gettext

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Translate a message whose form depends on a number.

        Args:
            singular: The English text for one, e.g. ``"{count} number"``.
            plural: The English text for other counts, e.g. ``"{count} numbers"``.
            n: The number that selects the plural form (the caller still formats it in).

        Returns:
            The form of the translation for ``n``, or the English form if the catalog lacks it;
            isolated like `gettext`'s.
        """
        return self._isolate_spans(self._catalog.ngettext(singular, plural, n))

    def _isolate_spans(self, text: str) -> str:
        """Isolate the always left-to-right spans of a translation, in RTL languages only."""
        if not self.rtl:
            return text
        return _LTR_SPANS.sub(lambda span: f"{LRI}{span.group()}{PDI}", text)

    def ltr(self, text: str) -> str:
        """Keep a left-to-right value intact inside this language's text.

        For right-to-left languages the value is wrapped in `LRI` ... `PDI`, so a phone number,
        code, order id or count shows in its own order whatever surrounds it; for the others
        it is returned unchanged. Use it on visible text only: copy buttons and callback data
        take the bare value.

        Args:
            text: The value, e.g. ``+60126856518``; already HTML-escaped if it goes into HTML.

        Returns:
            ``text``, isolated if this language is written right to left.
        """
        return f"{LRI}{text}{PDI}" if self.rtl else text

    def align(self, text: str) -> str:
        """Lay every line of a message out in this language's direction.

        Telegram gives each line the direction of its first strong character, so in Arabic a
        line starting with a phone number or a service name ("📱 +601…", "Telegram · …")
        would be laid out left to right. For right-to-left languages every line of the bot's
        own text is started with `RLM`; lines of a ``<blockquote>`` or ``<pre>`` (an SMS as
        received, whose direction is its own) are left alone. For the others the text is
        returned unchanged, so every screen can go through it.

        Args:
            text: Message text in Telegram HTML.

        Returns:
            ``text``, its own lines starting with `RLM` if this language is right to left.
        """
        if not self.rtl:
            return text
        lines, quoted = [], 0
        for line in text.split("\n"):
            lines.append(line if quoted or _QUOTE_OPEN.match(line) else RLM + line)
            quoted += len(_QUOTE_OPEN.findall(line)) - len(_QUOTE_CLOSE.findall(line))
        return "\n".join(lines)

    def _money(self, cents: int) -> str:
        """Format an amount of US cents as currency, e.g. ``$12.00`` or ``12,00 $``.

        In right-to-left languages the amount is isolated like `ltr` values. CLDR's patterns
        for them carry a direction mark of their own (Arabic's ``RLM 12.00 US$``, Persian's
        ``LRM $ 12.00``) but that is not enough in running text: laid out right to left,
        Arabic's shows as ``$US 12.00``, and either one's digits join a number next to it (the
        stock in a country button). Isolated left to right, the amount reads as CLDR writes it.
        Do not wrap the result in `ltr` again.
        """
        return self.ltr(format_currency(Decimal(cents) / 100, CURRENCY, locale=self.locale))

    def _number(self, n: int) -> str:
        """Format an integer with the locale's digit grouping, e.g. ``1,234`` or ``1 234``."""
        return format_decimal(n, locale=self.locale)

    def percent(self, value: int) -> str:
        """Format a whole percentage, e.g. ``92%``, ``92 %`` or ``%92``; isolated in
        right-to-left languages like `money`."""
        return self.ltr(format_percent(value / 100, locale=self.locale))

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
