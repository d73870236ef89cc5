"""The callback-data format of every inline button, defined in this one place.

Telegram hands callback data back verbatim, but anyone can forge it (a modified client, an
old message), so :func:`parse` is strict: a fixed set of prefixes, each with a fixed shape
of arguments matched by regular expression, and anything else is ``None``. Ownership of
orders and purchases is checked later, against the person pressing.

Every encoded value fits Telegram's 64-byte limit by construction (see ``_MAX_ID``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from telegram.constants import InlineKeyboardButtonLimit

_MAX_BYTES = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
ID = r"[A-Za-z0-9_-]{1,40}"
"""An API id of ours or jiema's: service code, order id, purchase token, alert id."""
_PAGE = r"0|[1-9][0-9]{0,3}"
COUNTRY = r"0|[1-9][0-9]{0,8}"
"""A country's numeric API id."""


class OrderAction(StrEnum):
    """What an order card button does."""

    VIEW = "v"
    CANCEL = "c"
    NEXT_SMS = "n"
    BUY_AGAIN = "r"


@dataclass(frozen=True, slots=True)
class ServicePage:
    """Show page ``page`` of the (possibly filtered) service list."""

    page: int


@dataclass(frozen=True, slots=True)
class PickService:
    """The user picked a service by its API code."""

    service: str


@dataclass(frozen=True, slots=True)
class CountryPage:
    """Show page ``page`` of ``service``'s countries."""

    service: str
    page: int


@dataclass(frozen=True, slots=True)
class PickCountry:
    """The user picked a country (API numeric id) for a service."""

    service: str
    country_id: int


@dataclass(frozen=True, slots=True)
class ConfirmBuy:
    """The single-use Buy button of one confirmation."""

    token: str


@dataclass(frozen=True, slots=True)
class OrderButton:
    """A button of an order card."""

    order_id: str
    action: OrderAction


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Page ``page`` of the order history (cursors are kept server-side)."""

    page: int


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """Switch the interface language."""

    language: str


@dataclass(frozen=True, slots=True)
class Menu:
    """A plain menu action: ``buy``, ``link``, ``orders``, ``balance`` or ``back``."""

    name: str


@dataclass(frozen=True, slots=True)
class Unlink:
    """Answer to "unlink although orders are active?"."""

    confirmed: bool


@dataclass(frozen=True, slots=True)
class Noop:
    """A label-only button (page counter); pressing it does nothing."""


@dataclass(frozen=True, slots=True)
class StatsRefresh:
    """Redraw the operator's /stats in place (operators only)."""


@dataclass(frozen=True, slots=True)
class BroadcastAction:
    """Send (``confirm``) or drop/stop a broadcast (operators only)."""

    broadcast_id: str
    confirm: bool


@dataclass(frozen=True, slots=True)
class MuteAnnouncements:
    """The button under every announcement: stop getting them."""


@dataclass(frozen=True, slots=True)
class SetAnnouncements:
    """/settings: turn announcements on or off."""

    on: bool


@dataclass(frozen=True, slots=True)
class FavouriteToggle:
    """★ on a confirmation: save or forget (service, country) as a favourite."""

    service: str
    country_id: int


@dataclass(frozen=True, slots=True)
class FavouriteOrder:
    """★ on an order card: save or forget the order's service and country."""

    order_id: str


@dataclass(frozen=True, slots=True)
class FavouriteRemove:
    """✕ in ``/favourites``: forget one favourite."""

    service: str
    country_id: int


@dataclass(frozen=True, slots=True)
class NotifyMe:
    """ "Notify me when available" for a sold-out (service, country)."""

    service: str
    country_id: int


@dataclass(frozen=True, slots=True)
class AlertCancel:
    """✕ in ``/alerts``: cancel one back-in-stock alert."""

    alert_id: str


Callback = (
    ServicePage
    | PickService
    | CountryPage
    | PickCountry
    | ConfirmBuy
    | OrderButton
    | HistoryPage
    | SetLanguage
    | Menu
    | Unlink
    | Noop
    | StatsRefresh
    | BroadcastAction
    | MuteAnnouncements
    | SetAnnouncements
    | FavouriteToggle
    | FavouriteOrder
    | FavouriteRemove
    | NotifyMe
    | AlertCancel
)

MENU_NAMES = frozenset({"buy", "link", "orders", "balance", "back"})

_PATTERNS: list[tuple[re.Pattern[str], type]] = [
    (re.compile(rf"sp:(?P<page>{_PAGE})"), ServicePage),
    (re.compile(rf"s:(?P<service>{ID})"), PickService),
    (re.compile(rf"cp:(?P<service>{ID}):(?P<page>{_PAGE})"), CountryPage),
    (re.compile(rf"c:(?P<service>{ID}):(?P<country_id>{COUNTRY})"), PickCountry),
    (re.compile(rf"b:(?P<token>{ID})"), ConfirmBuy),
    (re.compile(rf"o:(?P<action>[vcnr]):(?P<order_id>{ID})"), OrderButton),
    (re.compile(rf"h:(?P<page>{_PAGE})"), HistoryPage),
    (re.compile(r"l:(?P<language>[A-Za-z_]{2,10})"), SetLanguage),
    (re.compile(r"m:(?P<name>[a-z]{1,10})"), Menu),
    (re.compile(r"u:(?P<confirmed>[yn])"), Unlink),
    (re.compile(r"-"), Noop),
    (re.compile(r"ad:r"), StatsRefresh),
    (re.compile(rf"bc:(?P<confirm>[yn]):(?P<broadcast_id>{ID})"), BroadcastAction),
    (re.compile(r"an:m"), MuteAnnouncements),
    (re.compile(r"an:(?P<on>[yn])"), SetAnnouncements),
    (re.compile(rf"ft:(?P<service>{ID}):(?P<country_id>{COUNTRY})"), FavouriteToggle),
    (re.compile(rf"fo:(?P<order_id>{ID})"), FavouriteOrder),
    (re.compile(rf"fr:(?P<service>{ID}):(?P<country_id>{COUNTRY})"), FavouriteRemove),
    (re.compile(rf"nm:(?P<service>{ID}):(?P<country_id>{COUNTRY})"), NotifyMe),
    (re.compile(rf"ac:(?P<alert_id>{ID})"), AlertCancel),
]


def encode(callback: Callback) -> str:
    """Serialize ``callback``; raises ``ValueError`` on a value :func:`parse` would refuse."""
    match callback:
        case ServicePage(page):
            data = f"sp:{page}"
        case PickService(service):
            data = f"s:{service}"
        case CountryPage(service, page):
            data = f"cp:{service}:{page}"
        case PickCountry(service, country_id):
            data = f"c:{service}:{country_id}"
        case ConfirmBuy(token):
            data = f"b:{token}"
        case OrderButton(order_id, action):
            data = f"o:{action.value}:{order_id}"
        case HistoryPage(page):
            data = f"h:{page}"
        case SetLanguage(language):
            data = f"l:{language}"
        case Menu(name):
            data = f"m:{name}"
        case Unlink(confirmed):
            data = f"u:{'y' if confirmed else 'n'}"
        case Noop():
            data = "-"
        case StatsRefresh():
            data = "ad:r"
        case BroadcastAction(broadcast_id, confirm):
            data = f"bc:{'y' if confirm else 'n'}:{broadcast_id}"
        case MuteAnnouncements():
            data = "an:m"
        case SetAnnouncements(on):
            data = f"an:{'y' if on else 'n'}"
        case FavouriteToggle(service, country_id):
            data = f"ft:{service}:{country_id}"
        case FavouriteOrder(order_id):
            data = f"fo:{order_id}"
        case FavouriteRemove(service, country_id):
            data = f"fr:{service}:{country_id}"
        case NotifyMe(service, country_id):
            data = f"nm:{service}:{country_id}"
        case AlertCancel(alert_id):
            data = f"ac:{alert_id}"
    if parse(data) != callback:
        raise ValueError(f"cannot encode {callback!r}")
    return data


def parse(data: str | None) -> Callback | None:
    """Parse callback data strictly; ``None`` for anything that is not exactly ours."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > _MAX_BYTES:
        return None
    for pattern, kind in _PATTERNS:
        match = pattern.fullmatch(data)
        if match is None:
            continue
        fields = match.groupdict()
        if kind is OrderButton:
            return OrderButton(fields["order_id"], OrderAction(fields["action"]))
        if kind is Unlink:
            return Unlink(fields["confirmed"] == "y")
        if kind is BroadcastAction:
            return BroadcastAction(fields["broadcast_id"], fields["confirm"] == "y")
        if kind is SetAnnouncements:
            return SetAnnouncements(fields["on"] == "y")
        if kind is Menu and fields["name"] not in MENU_NAMES:
            return None
        typed = {k: int(v) if k in ("page", "country_id") else v for k, v in fields.items()}
        return kind(**typed)
    return None
