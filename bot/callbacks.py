"""The callback data of every inline button: each type declared once, with its encoding.

A button type is a frozen dataclass deriving from :class:`Callback`, decorated with
:func:`encoded_as` and the layout of its data, e.g. ``"c:{service}:{country_id}"``. Each
field's annotation says what its part looks like on the wire (:data:`Id`, :data:`Page`,
:data:`CountryId`, :data:`Flag`, …), so the encoder and the strict parser both follow from
that one declaration. Handlers register with ``ButtonHandler(callback, pattern=Type)``
(see :mod:`bot.handlers.common`) and receive the parsed value.

Telegram hands callback data back verbatim, but anyone can forge it (a modified client, an
old message), so :func:`parse` is strict: the data must match one layout exactly, each part
its grammar, and anything else is ``None``. Ownership of orders and purchases is checked
later, against the person pressing. Every encoded value fits Telegram's 64-byte limit by
construction (identifiers are at most 40 characters) and :func:`encode` checks it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, TypeVar, cast, get_type_hints

from telegram.constants import InlineKeyboardButtonLimit

_MAX_BYTES = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA


@dataclass(frozen=True, slots=True)
class Part:
    """How one field is written in callback data: its grammar and the two conversions."""

    pattern: str
    read: Callable[[str], Any] = str
    write: Callable[[Any], str] = str


ID = r"[A-Za-z0-9_-]{1,40}"
"""The grammar of an API id of ours or jiema's (also checked by the Mini App's inputs)."""
COUNTRY = r"0|[1-9][0-9]{0,8}"
"""The grammar of a country's numeric API id."""

Id = Annotated[str, Part(ID)]
"""An identifier: a service code, an order, token, broadcast or alert id."""
Page = Annotated[int, Part(r"0|[1-9][0-9]{0,3}", int)]
"""A page number, written without leading zeros."""
CountryId = Annotated[int, Part(COUNTRY, int)]
"""An API country id (0 is a real one)."""
Flag = Annotated[bool, Part("[yn]", lambda part: part == "y", lambda on: "y" if on else "n")]
"""Yes or no, written ``y`` / ``n``."""
LanguageCode = Annotated[str, Part(r"[A-Za-z_]{2,10}")]
"""A Babel locale identifier (``en``, ``zh_Hans``)."""


class OrderAction(StrEnum):
    """What an order card button does (Buy again is its own type: another flow handles it)."""

    VIEW = "v"
    CANCEL = "c"
    NEXT_SMS = "n"


Action = Annotated[OrderAction, Part("[vcn]", OrderAction, lambda action: action.value)]


class Callback:
    """The base of every button type: a value :func:`encode` writes and :func:`parse` reads."""

    __slots__ = ()


C = TypeVar("C", bound=Callback)


@dataclass(frozen=True, slots=True)
class _Layout:
    make: Callable[..., Callback]
    regex: re.Pattern[str]
    parts: dict[str, Part]
    template: str


_LAYOUTS: dict[type[Callback], _Layout] = {}


def encoded_as(template: str) -> Callable[[type[C]], type[C]]:
    """Declare a button type's wire layout: literal text with ``{field}`` for each field."""

    def register(kind: type[C]) -> type[C]:
        hints = get_type_hints(kind, include_extras=True)
        names = [field.name for field in fields(cast(Any, kind))]
        parts = {name: _part_of(kind, name, hints[name]) for name in names}
        regex = ""
        used = set()
        for literal, name, _, _ in string.Formatter().parse(template):
            regex += re.escape(literal)
            if name is not None:
                regex += f"(?P<{name}>{parts[name].pattern})"
                used.add(name)
        if used != set(parts):
            raise TypeError(f"{kind.__name__}: the layout {template!r} must name every field")
        _LAYOUTS[kind] = _Layout(kind, re.compile(regex), parts, template)
        return kind

    return register


def _part_of(kind: type, name: str, hint: Any) -> Part:
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, Part):
            return meta
    raise TypeError(f"{kind.__name__}.{name}: annotate it with a Part (Id, Page, Flag, …)")


# -- the buy flow -------------------------------------------------------------------------


@encoded_as("sp:{page}")
@dataclass(frozen=True, slots=True)
class ServicePage(Callback):
    """Show page ``page`` of the (possibly filtered) service list."""

    page: Page


@encoded_as("s:{service}")
@dataclass(frozen=True, slots=True)
class PickService(Callback):
    """The user picked a service by its API code."""

    service: Id


@encoded_as("cp:{service}:{page}")
@dataclass(frozen=True, slots=True)
class CountryPage(Callback):
    """Show page ``page`` of ``service``'s countries."""

    service: Id
    page: Page


@encoded_as("c:{service}:{country_id}")
@dataclass(frozen=True, slots=True)
class PickCountry(Callback):
    """The user picked a country (API numeric id) for a service."""

    service: Id
    country_id: CountryId


@encoded_as("b:{token}")
@dataclass(frozen=True, slots=True)
class ConfirmBuy(Callback):
    """The single-use Buy button of one confirmation."""

    token: Id


@encoded_as("o:{action}:{order_id}")
@dataclass(frozen=True, slots=True)
class OrderButton(Callback):
    """Refresh, Cancel or Another SMS on an order card, or an order opened from the history."""

    order_id: Id
    action: Action


@encoded_as("o:r:{order_id}")
@dataclass(frozen=True, slots=True)
class BuyAgain(Callback):
    """ "Buy again" on an order card: a new confirmation for its service and country."""

    order_id: Id


@encoded_as("h:{page}")
@dataclass(frozen=True, slots=True)
class HistoryPage(Callback):
    """Page ``page`` of the order history (cursors are kept server-side)."""

    page: Page


# -- menus and settings -------------------------------------------------------------------


@encoded_as("m:buy")
@dataclass(frozen=True, slots=True)
class BuyMenu(Callback):
    """The menu's "Buy a number"."""


@encoded_as("m:link")
@dataclass(frozen=True, slots=True)
class LinkMenu(Callback):
    """The menu's "Link my API key"."""


@encoded_as("m:orders")
@dataclass(frozen=True, slots=True)
class OrdersMenu(Callback):
    """The menu's "My orders"."""


@encoded_as("m:balance")
@dataclass(frozen=True, slots=True)
class BalanceMenu(Callback):
    """The menu's "Balance"."""


@encoded_as("m:back")
@dataclass(frozen=True, slots=True)
class CancelFlow(Callback):
    """Cancel in the buy flow: leave it."""


@encoded_as("l:{language}")
@dataclass(frozen=True, slots=True)
class SetLanguage(Callback):
    """Switch the interface language."""

    language: LanguageCode


@encoded_as("u:{confirmed}")
@dataclass(frozen=True, slots=True)
class Unlink(Callback):
    """Answer to "unlink although orders are active?"."""

    confirmed: Flag


@encoded_as("fg:{confirmed}")
@dataclass(frozen=True, slots=True)
class Forget(Callback):
    """Answer to "erase everything the bot keeps about you?"."""

    confirmed: Flag


@encoded_as("-")
@dataclass(frozen=True, slots=True)
class Noop(Callback):
    """A label-only button (page counter); pressing it does nothing."""


# -- the operators' console and announcements ---------------------------------------------


@encoded_as("ad:r")
@dataclass(frozen=True, slots=True)
class StatsRefresh(Callback):
    """Redraw the operator's /stats in place (operators only)."""


@encoded_as("bc:{confirm}:{broadcast_id}")
@dataclass(frozen=True, slots=True)
class BroadcastAction(Callback):
    """Send (``confirm``) or drop/stop a broadcast (operators only)."""

    broadcast_id: Id
    confirm: Flag


@encoded_as("an:m")
@dataclass(frozen=True, slots=True)
class MuteAnnouncements(Callback):
    """The button under every announcement: stop getting them."""


@encoded_as("an:{on}")
@dataclass(frozen=True, slots=True)
class SetAnnouncements(Callback):
    """/settings: turn announcements on or off."""

    on: Flag


# -- favourites and alerts ----------------------------------------------------------------


@encoded_as("ft:{service}:{country_id}")
@dataclass(frozen=True, slots=True)
class FavouriteToggle(Callback):
    """★ on a confirmation: save or forget (service, country) as a favourite."""

    service: Id
    country_id: CountryId


@encoded_as("fo:{order_id}")
@dataclass(frozen=True, slots=True)
class FavouriteOrder(Callback):
    """★ on an order card: save or forget the order's service and country."""

    order_id: Id


@encoded_as("fr:{service}:{country_id}")
@dataclass(frozen=True, slots=True)
class FavouriteRemove(Callback):
    """✕ in ``/favourites``: forget one favourite."""

    service: Id
    country_id: CountryId


@encoded_as("nm:{service}:{country_id}")
@dataclass(frozen=True, slots=True)
class NotifyMe(Callback):
    """ "Notify me when available" for a sold-out (service, country)."""

    service: Id
    country_id: CountryId


@encoded_as("ac:{alert_id}")
@dataclass(frozen=True, slots=True)
class AlertCancel(Callback):
    """✕ in ``/alerts``: cancel one back-in-stock alert."""

    alert_id: Id


# -- the codec ------------------------------------------------------------------------------


def encode(callback: Callback) -> str:
    """Serialize ``callback``; raises ``ValueError`` on a value :func:`parse` would refuse."""
    layout = _LAYOUTS[type(callback)]
    data = layout.template.format_map(
        {name: part.write(getattr(callback, name)) for name, part in layout.parts.items()}
    )
    if parse(data) != callback:
        raise ValueError(f"cannot encode {callback!r}")
    return data


@lru_cache(maxsize=1024)
def parse(data: str | None) -> Callback | None:
    """Parse callback data strictly; ``None`` for anything that is not exactly ours.

    Values are immutable, so the result is cached: the handlers asking about the same
    update's data (each checks its own type) share one parse.
    """
    if not data or len(data.encode("utf-8", "surrogatepass")) > _MAX_BYTES:
        return None
    for layout in _LAYOUTS.values():
        match = layout.regex.fullmatch(data)
        if match is not None:
            values = {name: part.read(match[name]) for name, part in layout.parts.items()}
            return layout.make(**values)
    return None
