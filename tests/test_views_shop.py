"""The shop's screens (issue 14): valid Telegram HTML in every language, and their buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from telegram.constants import CallbackQueryLimit, MessageLimit

from bot import callbacks as cb
from bot import keyboards, views
from bot.api import Account, Service
from bot.fakebotapi import parse_html
from bot.i18n import LANGUAGES, LRI, PDI, RLM, get_translator
from bot.services.alerts import Alternatives, Place, Watching
from bot.services.catalog import Offer
from bot.services.favourites import Added, FavouriteOffer, Full, Removed, Unknown
from bot.services.purchases import Quote
from bot.services.topup import RunningLow
from bot.store import Alert, AlertState, Favourite, Purchase, PurchaseState

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOSTILE = '<b>x</b> & <a href="y">z</a> &amp; <tg-spoiler>'
SITE = "https://jiema.example/top-up"
SERVICE = Service("tg", "telegram", HOSTILE, None, 10, 3)
OFFER = Offer(7, "my", HOSTILE, 32, 540)
SOLD_OUT = Offer(9, "pl", "Poland", 12, 0)
FAVOURITE = Favourite(1, "tg", HOSTILE, "7", "my", NOW)
ALERT = Alert(
    "al3rt_id", 1, "tg", HOSTILE, "7", "my", AlertState.ACTIVE, NOW, NOW + timedelta(hours=24),
    None, None, None,
)  # fmt: skip


def quote(balance_cents: int, *, favourite: bool = False) -> Quote:
    purchase = Purchase(
        "tok_en", 1, "tg", HOSTILE, "7", "my", 32, PurchaseState.OFFERED, None, NOW, NOW
    )
    account = Account("u1", balance_cents, HOSTILE, "en", None)
    return Quote(purchase, SERVICE, OFFER, account, favourite=favourite)


def screens(language: str) -> list[views.Screen]:
    t = get_translator(language)
    favourites = [
        FavouriteOffer(FAVOURITE, OFFER),
        FavouriteOffer(FAVOURITE, SOLD_OUT),
        FavouriteOffer(FAVOURITE, None),
    ]
    alternatives = Alternatives(SERVICE, Place(9, "pl", HOSTILE), [OFFER] * 3, watching=False)
    return [
        views.services(t, [SERVICE] * 3, 0, None, favourites=favourites),
        views.countries(t, SERVICE, [OFFER] * 9 + [SOLD_OUT] * 9, 1, None),
        views.countries(t, SERVICE, [SOLD_OUT], 0, None),
        views.countries(t, SERVICE, [SOLD_OUT], 0, HOSTILE),
        views.confirmation(t, quote(10, favourite=True), SITE),
        views.favourites_list(t, favourites),
        views.favourites_list(t, []),
        views.alternatives(t, alternatives),
        views.alternatives(t, Alternatives(SERVICE, Place(9, "", "9"), [], watching=True)),
        views.alerts_list(t, [ALERT] * 10, NOW),
        views.alerts_list(t, [], NOW),
        views.back_in_stock(t, ALERT, OFFER),
        views.balance(t, quote(0).account, SITE),
        views.running_low(t, RunningLow(5, 32), SITE),
    ]


def answers(language: str) -> list[str]:
    """Callback answers: plain text (not HTML), shown in a toast or an alert."""
    t = get_translator(language)
    return [
        views.favourite_toggled(t, Added()),
        views.favourite_toggled(t, Removed()),
        views.favourite_toggled(t, Full(10)),
        views.favourite_toggled(t, Unknown()),
        views.watching(t, Watching(ALERT, new=True), 24),
        views.too_many_alerts(t, 10),
        views.alert_cancelled(t),
    ]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_answer_fits_a_callback_answer(language: str) -> None:
    limit = CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH
    for text in answers(language):
        assert 1 <= len(text.replace(HOSTILE, "x")) <= limit


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_shop_screen_is_valid_html_within_limits(language: str) -> None:
    for screen in screens(language):
        text, _ = parse_html(screen.text)
        assert 1 <= len(text) <= MessageLimit.MAX_TEXT_LENGTH
        assert "<b>x</b>" not in text or HOSTILE in text  # untrusted text is shown, not parsed


RTL = ["ar", "fa"]


@pytest.mark.parametrize("language", RTL)
def test_rtl_shop_screens_lay_every_line_right_to_left(language: str) -> None:
    for screen in screens(language):
        for line in screen.text.split("\n"):
            assert line.startswith(RLM), f"{line!r} of {screen.text!r}"


@pytest.mark.parametrize("language", sorted(set(LANGUAGES) - set(RTL)))
def test_ltr_shop_screens_carry_no_directional_characters(language: str) -> None:
    for screen in screens(language):
        assert not {LRI, PDI, RLM} & set(screen.text), screen.text


def data_of(screen: views.Screen) -> list[object]:
    assert screen.markup is not None
    return [b.callback_data for row in screen.markup.inline_keyboard for b in row]


def test_sold_out_countries_come_last_and_marked() -> None:
    t = get_translator("en")
    screen = views.countries(t, SERVICE, [OFFER, SOLD_OUT], 0, None)
    assert screen.markup is not None
    labels = [row[0].text for row in screen.markup.inline_keyboard[:2]]
    assert labels == [f"🇲🇾 {t.country('my', '')} · $0.32 · 540 left", "🇵🇱 Poland · sold out"]
    assert data_of(screen)[:2] == ["c:tg:7", "c:tg:9"]
    everything_sold_out = views.countries(t, SERVICE, [SOLD_OUT], 0, None)
    assert "no numbers in stock anywhere" in everything_sold_out.text


def test_favourites_come_first_one_tap_each() -> None:
    t = get_translator("en")
    plain = views.services(t, [SERVICE], 0, None)
    screen = views.services(t, [SERVICE], 0, None, favourites=[FavouriteOffer(FAVOURITE, SOLD_OUT)])
    assert screen.markup is not None
    first = screen.markup.inline_keyboard[0][0]
    assert first.text.endswith("· sold out")
    assert first.text.startswith(f"★ {HOSTILE} · ")  # a label: plain text, not escaped
    assert first.callback_data == "c:tg:7"
    assert data_of(screen)[1:] == data_of(plain)
    assert screen.text == plain.text
    assert views.services(t, [SERVICE], 0, None, favourites=[]) == plain


def test_confirmation_star_and_top_up_sit_above_the_way_back() -> None:
    t = get_translator("en")
    poor = quote(10)
    extended = views.confirmation(t, poor, SITE)
    assert extended.markup is not None
    rows = extended.markup.inline_keyboard
    assert [[b.text for b in row] for row in rows] == [
        ["Top up on jiema.my"],
        ["☆ Add to favourites"],
        ["‹ Countries", "Cancel"],
    ]
    assert rows[0][0].url == SITE
    relabelled = keyboards.with_favourite_state(t, extended.markup, "tg", 7, True)
    assert relabelled is not None
    assert relabelled.inline_keyboard[1][0].text == "★ In favourites"
    assert relabelled.inline_keyboard[1][0].callback_data == "ft:tg:7"
    rich = views.confirmation(t, quote(1000, favourite=True), SITE)
    assert data_of(rich) == ["b:tok_en", "rq:y:tok_en", "ft:tg:7", "cp:tg:0", "m:back"]


def test_the_auto_replace_switch_of_a_confirmation_shows_its_state() -> None:
    t = get_translator("en")
    screen = views.confirmation(t, quote(1000), SITE)
    assert screen.markup is not None
    assert screen.markup.inline_keyboard[1][0].text == "🔁 Auto-replace: off"
    pressed = cb.AutoReplaceQuote("tok_en", on=True)
    fresh = keyboards.auto_replace_quote(t, "tok_en", True)[0]
    switched = keyboards.switched(screen.markup, pressed, fresh)
    assert switched is not None
    assert (switched.inline_keyboard[1][0].text, switched.inline_keyboard[1][0].callback_data) == (
        "🔁 Auto-replace: on",
        "rq:n:tok_en",
    )
    assert data_of(views.Screen("", switched))[2:] == data_of(screen)[2:]  # nothing else moves


def test_notify_me_goes_away_once_pressed() -> None:
    t = get_translator("en")
    alternatives = Alternatives(SERVICE, Place(9, "pl", "Poland"), [OFFER], watching=False)
    screen = views.alternatives(t, alternatives)
    assert data_of(screen) == ["c:tg:7", "nm:tg:9", "cp:tg:0", "m:back"]
    without = keyboards.without(screen.markup, cb.NotifyMe("tg", 9))
    assert without is not None
    assert [b.callback_data for row in without.inline_keyboard for b in row] == [
        "c:tg:7",
        "cp:tg:0",
        "m:back",
    ]
    watching = views.alternatives(
        t, Alternatives(SERVICE, Place(9, "pl", "Poland"), [OFFER], watching=True)
    )
    assert "nm:tg:9" not in data_of(watching)


def test_alert_message_buy_button_opens_the_confirmation() -> None:
    screen = views.back_in_stock(get_translator("en"), ALERT, OFFER)
    assert data_of(screen) == [cb.encode(cb.PickCountry("tg", 7))]
    assert "$0.32" in screen.text
    assert "540 left" in screen.text
