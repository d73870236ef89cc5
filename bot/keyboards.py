"""Inline keyboards: pure builders, no I/O. Callback data comes from :mod:`bot.callbacks`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from math import ceil
from typing import Any

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot import callbacks as cb
from bot.i18n import LANGUAGES, Translator, label_width
from bot.order_status import FINAL_STATUSES
from bot.services.models import Service
from bot.services.orders import can_cancel, can_next_sms

SERVICES_PER_PAGE = 12
COUNTRIES_PER_PAGE = 8
_SERVICE_COLUMNS = 2

ROW_WIDTH = 30
"""Columns (see `bot.i18n.label_width`) a phone shows uncut across one keyboard row."""

_LANGUAGE_COLUMNS = 3
_BUTTONS_KEPT = 4096
"""Buttons remembered at most (least recently used forgotten first)."""
_TICK = "✓ "

Rows = list[list[InlineKeyboardButton]]


class _CallbackButton(InlineKeyboardButton):
    """A callback button that turns into JSON once (:meth:`to_dict`), not at every send.

    PTB converts the whole keyboard of every message it sends, object by object: 0.1 ms for
    a page of services, a twentieth of the bot's CPU per update in ``bench.throughput
    --profile``. The button is immutable, so its dictionary is remembered; each call gets a
    copy of it.
    """

    __slots__ = ()

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        return dict(_json(self))

    def __hash__(self) -> int:
        # As a plain button's: equal buttons (a tapped message's, parsed) hash alike.
        return hash((InlineKeyboardButton, self._id_attrs))


_json = lru_cache(maxsize=_BUTTONS_KEPT)(InlineKeyboardButton.to_dict)


@lru_cache(maxsize=_BUTTONS_KEPT)
def button(text: str, callback: cb.Callback) -> InlineKeyboardButton:
    """A callback button whose data is encoded (and length-checked) by :mod:`bot.callbacks`.

    Remembered: PTB's objects are immutable, so one button serves every keyboard that shows
    it, and the same services, prices and pages recur for every user (building a button and
    encoding its data was 2 % of the bot's CPU per update in ``bench.throughput --profile``).
    """
    return _CallbackButton(text, callback_data=cb.encode(callback))


def page_count(total: int, per_page: int) -> int:
    """Pages needed for ``total`` items (at least one, so an empty list still has a page)."""
    return max(1, ceil(total / per_page))


def clamp_page(page: int, total: int, per_page: int) -> int:
    """A page number forced into range (stale buttons may name a page that is gone)."""
    return min(max(page, 0), page_count(total, per_page) - 1)


def _nav_row(
    page: int, pages: int, make: Callable[[int], cb.Callback]
) -> list[InlineKeyboardButton]:
    """‹ n/N › — arrows only where there is somewhere to go."""
    row = []
    if page > 0:
        row.append(button("‹", make(page - 1)))
    row.append(button(f"{page + 1}/{pages}", cb.Noop()))
    if page < pages - 1:
        row.append(button("›", make(page + 1)))
    return row


def open_app(t: Translator, url: str) -> InlineKeyboardButton:
    """Opens the Mini App (private chats only, as Telegram requires)."""
    return InlineKeyboardButton(t._("📱 Open the app"), web_app=WebAppInfo(url))


def services(
    t: Translator, items: Sequence[Service], page: int, app_url: str | None = None
) -> InlineKeyboardMarkup:
    """A page of services, two columns, with paging and Cancel."""
    start = page * SERVICES_PER_PAGE
    chunk = [
        button(service.name, cb.PickService(service.code))
        for service in items[start : start + SERVICES_PER_PAGE]
    ]
    rows: Rows = [chunk[i : i + _SERVICE_COLUMNS] for i in range(0, len(chunk), _SERVICE_COLUMNS)]
    pages = page_count(len(items), SERVICES_PER_PAGE)
    if pages > 1:
        rows.append(_nav_row(page, pages, cb.ServicePage))
    if app_url is not None:
        rows.append([open_app(t, app_url)])
    rows.append([button(t._("Cancel"), cb.CancelFlow())])
    return InlineKeyboardMarkup(rows)


def countries(
    t: Translator, service: str, items: Sequence[tuple[int, str]], page: int
) -> InlineKeyboardMarkup:
    """A page of ``(country_id, label)`` for ``service``, one per row, paging, Back."""
    start = page * COUNTRIES_PER_PAGE
    rows: Rows = [
        [button(label, cb.PickCountry(service, country_id))]
        for country_id, label in items[start : start + COUNTRIES_PER_PAGE]
    ]
    pages = page_count(len(items), COUNTRIES_PER_PAGE)
    if pages > 1:
        rows.append(_nav_row(page, pages, lambda p: cb.CountryPage(service, p)))
    rows.append(
        [button(t._("‹ Services"), cb.ServicePage(0)), button(t._("Cancel"), cb.CancelFlow())]
    )
    return InlineKeyboardMarkup(rows)


def confirm(t: Translator, service: str, token: str | None) -> InlineKeyboardMarkup:
    """Buy (only when affordable: ``token`` is None otherwise), Back to countries, Cancel."""
    rows: Rows = []
    if token is not None:
        # TRANSLATORS: the single-use purchase button; keep it one short word.
        rows.append([button(t._("Buy"), cb.ConfirmBuy(token))])
    rows.append(
        [
            button(t._("‹ Countries"), cb.CountryPage(service, 0)),
            button(t._("Cancel"), cb.CancelFlow()),
        ]
    )
    return InlineKeyboardMarkup(rows)


def forget(t: Translator) -> InlineKeyboardMarkup:
    """Erase everything, or keep it (one per row: the first label is long in some languages)."""
    return InlineKeyboardMarkup(
        [
            [button(t._("Erase everything"), cb.Forget(True))],
            [button(t._("Keep my data"), cb.Forget(False))],
        ]
    )


def order_card(
    t: Translator,
    order_id: str,
    status: str,
    sms_count: int,
    phone: str,
    auto_replace: bool | None = None,
) -> InlineKeyboardMarkup | None:
    """Buttons that fit the order's state; None if the id cannot travel in callback data.

    Args:
        auto_replace: Whether the order replaces a silent number; None: no such switch.
    """
    try:

        def act(text: str, action: cb.OrderAction) -> InlineKeyboardButton:
            return button(text, cb.OrderButton(order_id, action))

        rows: Rows = []
        if can_cancel(status, sms_count):
            rows.append([act(t._("Cancel order"), cb.OrderAction.CANCEL)])
            if auto_replace is not None:
                switch = cb.AutoReplaceOrder(order_id, on=not auto_replace)
                rows.append([button(auto_replace_label(t, auto_replace), switch)])
        if can_next_sms(status):
            rows.append([act(t._("Another SMS"), cb.OrderAction.NEXT_SMS)])
        if status not in FINAL_STATUSES:
            rows.append(
                [
                    act(t._("Refresh"), cb.OrderAction.VIEW),
                    InlineKeyboardButton(t._("Copy number"), copy_text=CopyTextButton(phone)),
                ]
            )
        rows.append([button(t._("Buy again"), cb.BuyAgain(order_id))])
        rows.append([button(t._("★ Favourite"), cb.FavouriteOrder(order_id))])
    except ValueError:
        return None
    return InlineKeyboardMarkup(rows)


def copy_code(t: Translator, code: str) -> InlineKeyboardMarkup:
    """One button that copies the code to the clipboard (the bare code, isolated in the label)."""
    label = t._("Copy code {code}").format(code=t.ltr(code))
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, copy_text=CopyTextButton(code))]])


def history(
    t: Translator, orders: Sequence[tuple[str, str]], page: int, has_next: bool
) -> InlineKeyboardMarkup:
    """One button per order (``(order_id, label)``) opening its card, then paging."""
    rows: Rows = []
    for order_id, label in orders:
        try:
            rows.append([button(label, cb.OrderButton(order_id, cb.OrderAction.VIEW))])
        except ValueError:
            continue
    nav = []
    if page > 0:
        nav.append(button("‹", cb.HistoryPage(page - 1)))
    if has_next:
        nav.append(button("›", cb.HistoryPage(page + 1)))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows)


def languages(current: str) -> InlineKeyboardMarkup:
    """Every language named in itself, on one page; the current one ticked.

    One page, because someone who cannot read the current language must still see their own
    (22 buttons are well within Telegram's 100). Languages fill rows of up to three in
    `LANGUAGES` order while each label fits its share of the row: Telegram gives the buttons
    of a row equal widths, so a row of ``n`` holds labels of at most ``ROW_WIDTH / n``
    columns. Widths are measured with the tick, so the layout does not move with the choice.
    """
    rows: Rows = []
    widest = 0  # the widest label of the last row
    for code, name in LANGUAGES.items():
        width = label_width(_TICK + name)
        fits = bool(rows) and len(rows[-1]) < _LANGUAGE_COLUMNS
        if fits and max(widest, width) * (len(rows[-1]) + 1) <= ROW_WIDTH:
            widest = max(widest, width)
        else:
            rows.append([])
            widest = width
        rows[-1].append(button((_TICK if code == current else "") + name, cb.SetLanguage(code)))
    return InlineKeyboardMarkup(rows)


def main_menu(t: Translator, linked: bool, app_url: str | None = None) -> InlineKeyboardMarkup:
    """The /start menu (with the Mini App's button when there is one)."""
    if not linked:
        return InlineKeyboardMarkup([[button(t._("Link my API key"), cb.LinkMenu())]])
    rows: Rows = [
        [button(t._("Buy a number"), cb.BuyMenu())],
        [
            button(t._("My orders"), cb.OrdersMenu()),
            button(t._("Balance"), cb.BalanceMenu()),
        ],
    ]
    if app_url is not None:
        rows.append([open_app(t, app_url)])
    return InlineKeyboardMarkup(rows)


def unlink(t: Translator) -> InlineKeyboardMarkup:
    """Confirm or keep the key."""
    return InlineKeyboardMarkup(
        [
            [
                button(t._("Unlink anyway"), cb.Unlink(True)),
                button(t._("Keep it"), cb.Unlink(False)),
            ]
        ]
    )


# -- operator console (issue 15) ------------------------------------------------------------


def announcement(t: Translator) -> InlineKeyboardMarkup:
    """Under every announcement."""
    return InlineKeyboardMarkup([[button(t._("Mute announcements"), cb.MuteAnnouncements())]])


def stats(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[button(t._("Refresh"), cb.StatsRefresh())]])


def broadcast_confirm(t: Translator, broadcast_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                button(t._("Send"), cb.BroadcastAction(broadcast_id, confirm=True)),
                button(t._("Cancel"), cb.BroadcastAction(broadcast_id, confirm=False)),
            ]
        ]
    )


def broadcast_running(t: Translator, broadcast_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[button(t._("Stop the broadcast"), cb.BroadcastAction(broadcast_id, confirm=False))]]
    )


def settings(t: Translator, muted: bool, auto_replace: bool = False) -> InlineKeyboardMarkup:
    label = t._("Turn announcements on") if muted else t._("Mute announcements")
    switch = cb.SetAutoReplace(on=not auto_replace)
    return InlineKeyboardMarkup(
        [
            [button(label, cb.SetAnnouncements(on=muted))],
            [button(auto_replace_label(t, auto_replace), switch)],
        ]
    )


def auto_replace_label(t: Translator, on: bool) -> str:
    """The label of the auto-replace switch, showing its state."""
    return t._("🔁 Auto-replace: on") if on else t._("🔁 Auto-replace: off")


def auto_replace_quote(t: Translator, token: str, on: bool) -> list[InlineKeyboardButton]:
    """The 🔁 row of a confirmation: shows the state; a tap switches it."""
    return [button(auto_replace_label(t, on), cb.AutoReplaceQuote(token, on=not on))]


def switched(
    markup: InlineKeyboardMarkup | None, pressed: cb.Callback, fresh: InlineKeyboardButton
) -> InlineKeyboardMarkup | None:
    """``markup`` with the button of ``pressed`` replaced by ``fresh`` (nothing else moves)."""
    if markup is None:
        return None
    data = cb.encode(pressed)
    return InlineKeyboardMarkup(
        [[fresh if b.callback_data == data else b for b in row] for row in markup.inline_keyboard]
    )


# -- favourites, alerts, top-up (issue 14) ---------------------------------------------------


def topup(t: Translator, site_url: str) -> list[InlineKeyboardButton]:
    """The "Top up on jiema.my" row: a link to the site (the API cannot top up)."""
    return [InlineKeyboardButton(t._("Top up on jiema.my"), url=site_url)]


def without(
    markup: InlineKeyboardMarkup | None, callback: cb.Callback
) -> InlineKeyboardMarkup | None:
    """``markup`` without the button of ``callback`` (rows left empty are dropped)."""
    if markup is None:
        return None
    data = cb.encode(callback)
    rows = [[b for b in row if b.callback_data != data] for row in markup.inline_keyboard]
    return InlineKeyboardMarkup([row for row in rows if row])


def extended(
    markup: InlineKeyboardMarkup | None,
    *,
    top: Sequence[Sequence[InlineKeyboardButton]] = (),
    above_last: Sequence[Sequence[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup:
    """``markup`` with rows added at the top and just above its last row.

    The last row of the bot's screens is the way out (Back, Cancel): added actions go above
    it so it stays at the bottom.
    """
    current = [list(row) for row in markup.inline_keyboard] if markup else []
    at = max(0, len(current) - 1)
    return InlineKeyboardMarkup(
        [list(r) for r in top] + current[:at] + [list(r) for r in above_last] + current[at:]
    )


def favourite_toggle(
    t: Translator, service: str, country_id: int, on: bool
) -> list[InlineKeyboardButton]:
    """The ★ row of a confirmation: shows whether the pair is a favourite; tap toggles."""
    label = t._("★ In favourites") if on else t._("☆ Add to favourites")
    return [button(label, cb.FavouriteToggle(service, country_id))]


def with_favourite_state(
    t: Translator, markup: InlineKeyboardMarkup | None, service: str, country_id: int, on: bool
) -> InlineKeyboardMarkup | None:
    """``markup`` with its ★ button relabelled for ``on`` (after a toggle; nothing else moves)."""
    if markup is None:
        return None
    data = cb.encode(cb.FavouriteToggle(service, country_id))
    fresh = favourite_toggle(t, service, country_id, on)[0]
    return InlineKeyboardMarkup(
        [[fresh if b.callback_data == data else b for b in row] for row in markup.inline_keyboard]
    )


def favourite_picks(items: Sequence[tuple[str, int, str]]) -> Rows:
    """One row per favourite ``(service, country_id, label)``, each opening its confirmation."""
    return [[button(label, cb.PickCountry(service, country))] for service, country, label in items]


def alternatives(
    t: Translator,
    service: str,
    country_id: int,
    items: Sequence[tuple[int, str]],
    watching: bool,
) -> InlineKeyboardMarkup:
    """In-stock countries (``(country_id, label)``), Notify me (unless watching), the way back."""
    rows: Rows = [[button(label, cb.PickCountry(service, c))] for c, label in items]
    if not watching:
        rows.append([button(t._("🔔 Notify me when available"), cb.NotifyMe(service, country_id))])
    rows.append(
        [
            button(t._("‹ Countries"), cb.CountryPage(service, 0)),
            button(t._("Cancel"), cb.CancelFlow()),
        ]
    )
    return InlineKeyboardMarkup(rows)


def favourites_list(t: Translator, items: Sequence[tuple[str, int, str]]) -> InlineKeyboardMarkup:
    """Each favourite ``(service, country_id, label)``: open its confirmation, or ✕ remove it."""
    rows: Rows = [
        [
            button(label, cb.PickCountry(service, country)),
            button(t._("✕ Remove"), cb.FavouriteRemove(service, country)),
        ]
        for service, country, label in items
    ]
    rows.append([button(t._("Buy a number"), cb.BuyMenu())])
    return InlineKeyboardMarkup(rows)


def alerts_list(t: Translator, items: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """One ✕ button per alert ``(alert_id, label)`` cancelling it."""
    rows: Rows = [
        [button(t._("✕ {alert}").format(alert=label), cb.AlertCancel(alert_id))]
        for alert_id, label in items
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def back_in_stock(t: Translator, service: str, country_id: int) -> InlineKeyboardMarkup:
    """The Buy button of an alert: it opens the confirmation (nothing is bought yet)."""
    return InlineKeyboardMarkup([[button(t._("Buy"), cb.PickCountry(service, country_id))]])
