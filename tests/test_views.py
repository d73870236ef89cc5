"""Every screen, in every language, is valid Telegram HTML within Telegram's limits.

In the right-to-left languages every screen is also laid out right to left, its phone
numbers, codes and ids isolated, and what a tap copies or a button sends back is bare.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.constants import MessageLimit

from bot import views
from bot.api import Account, Order, Service, Sms
from bot.api import errors as api_errors
from bot.fakebotapi import parse_html
from bot.i18n import LANGUAGES, LRI, PDI, RLM, get_translator
from bot.notifier import NOT_ON_CARD
from bot.services.admin import ReplicaLeases, Stats
from bot.services.catalog import Offer
from bot.services.purchases import Quote
from bot.store import Purchase, PurchaseState, StoredOrder
from bot.store.console import Tally, UserCounts
from tests.i18n_checks import assert_no_bidi_in_code, assert_no_bidi_in_copy

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOSTILE = '<b>x</b> & <a href="y">z</a> &amp; <tg-spoiler>'
ACCOUNT = Account("u1", 1234, HOSTILE, "en", None)
SITE = "https://jiema.example/top-up"
SERVICE = Service("tg", "telegram", HOSTILE, None, 10, 3)
OFFER = Offer(7, "my", HOSTILE, 32, 540)
QUOTE = Quote(
    Purchase("tok_en", 1, "tg", HOSTILE, "7", "my", 32, PurchaseState.OFFERED, None, NOW, NOW),
    SERVICE,
    OFFER,
    ACCOUNT,
)


HISTORY = [
    Order(
        "ck_order-1", "RECEIVED", "tg", "my", "+60123456789", created_at=NOW - timedelta(hours=1)
    ),
    Order("ck_order-2", "SOMETHING_NEW"),
]
STATS = Stats(
    at=NOW,
    users=UserCounts(total=1200, linked=800, active=300, blocked=12),
    active_orders=40,
    orders_bought=900,
    codes_delivered=850,
    latency_median=1.25,
    latency_p95=None,
    jiema_errors=3,
    jiema_rate_limited=1,
    telegram_errors=0,
    pending_deliveries=2,
    replicas=(ReplicaLeases("replica-a", 10, 5, ("job:expiry",), this_one=True),),
)
TALLY = Tally(pending=5, sent=90, blocked=2, failed=1, skipped=1, unknown=1)
RTL = ["ar", "fa"]


def order(status: str = "WAITING", sms_seen: int = 0) -> StoredOrder:
    return StoredOrder(
        id="ck_order-1",
        user_id=1,
        key_fingerprint="f",
        service="tg",
        service_name=HOSTILE,
        country_id="7",
        country_slug="my",
        phone="+60123456789",
        status=status,
        expires_at=NOW + timedelta(minutes=19, seconds=30),
        charged_cents=32,
        sms_seen=sms_seen,
    )


REPLACEMENT = replace(
    order(),
    id="ck_order-2",
    phone="+60111",
    auto_replace=True,
    replaced_from="+60123456789",
    replaces_left=2,
)
NOT_REPLACED = replace(order("CANCELLED"), replaced_by="", confirmed_cents=40)


_CHANGED: dict[str, Any] = {
    "user_id": 2,
    "key_fingerprint": "g",
    "service": "wa",
    "card_message_id": 99,
    "card_hash": "h",
    "card_retry_at": NOW,
    "final_notified": True,
    "created_at": NOW - timedelta(days=1),
    "updated_at": NOW,
    "rate_counted": True,
}


@pytest.mark.parametrize("field", sorted(NOT_ON_CARD))
def test_what_the_card_does_not_show_does_not_change_it(field: str) -> None:
    # The notifier renders a card again only when a field it shows changed (NOT_ON_CARD).
    t = get_translator("en")
    for shown in (order(), order("RECEIVED", 2), REPLACEMENT, NOT_REPLACED):
        changed = replace(shown, **{field: _CHANGED[field]})
        before, after = views.order_card(t, shown, NOW), views.order_card(t, changed, NOW)
        assert before.text == after.text
        assert before.markup is not None
        assert after.markup is not None
        assert before.markup.to_json() == after.markup.to_json()


def test_what_auto_replace_did_is_on_the_cards() -> None:
    t = get_translator("en")
    card = views.order_card(t, REPLACEMENT, NOW)
    assert "🔁 +60123456789 got no SMS: refunded and replaced." in card.text
    assert "Auto-replacements left: 2" in card.text
    assert card.markup is not None
    labels = [b.text for row in card.markup.inline_keyboard for b in row]
    assert "🔁 Auto-replace: on" in labels
    exhausted = views.order_card(t, replace(REPLACEMENT, replaces_left=0), NOW)
    assert exhausted.markup is not None
    assert all(
        "Auto-replace" not in b.text for row in exhausted.markup.inline_keyboard for b in row
    )
    assert "No other number at or below $0.40" in views.order_card(t, NOT_REPLACED, NOW).text
    bought = views.replacement_bought(t, order("CANCELLED"), REPLACEMENT)
    assert "<code>+60111</code>" in bought.text
    settings = views.settings(t, muted=False, auto_replace=True, replace_after=0.5)
    assert "🔁 Auto-replace: on" in settings.text
    assert "within 30 seconds" in settings.text


def screens(language: str) -> list[views.Screen]:
    t = get_translator(language)
    errors = [
        api_errors.AuthError(401, "AUTH_INVALID", ""),
        api_errors.InsufficientBalanceError(400, "INSUFFICIENT", ""),
        api_errors.RateLimitedError(429, "RATE_LIMITED", "", 7),
        api_errors.BadRequestError(400, "NEW_THING", HOSTILE),
        api_errors.ApiTimeoutError("x"),
        api_errors.MalformedResponseError("x"),
    ]
    return [
        views.welcome(t, HOSTILE, None),
        views.welcome(t, HOSTILE, ACCOUNT),
        views.help_text(t, [("buy", "Buy"), ("help", HOSTILE)]),
        views.linked(t, ACCOUNT, deleted=False),
        views.unlink_confirm(t, 3),
        views.services(t, [SERVICE] * 30, 1, HOSTILE),
        views.services(t, [], 0, HOSTILE),
        views.countries(t, SERVICE, [OFFER] * 20, 2, None),
        views.countries(t, SERVICE, [], 0, HOSTILE),
        views.confirmation(t, QUOTE, SITE),
        views.order_card(t, order(), NOW),
        views.order_card(t, order("RECEIVED", 2), NOW),
        views.order_card(t, order("CANCELLED"), NOW),
        views.order_card(t, order("SOMETHING_NEW"), NOW),
        views.order_card(
            t, order("RECEIVED", 3), NOW, sms=[HOSTILE + " code 123456", "&" * 500, "42 4242"]
        ),
        views.order_card(t, order("RECEIVED", 40), NOW, sms=[HOSTILE * 10] * 40),
        views.code_message(t, order(), Sms(HOSTILE + " code 123456", NOW)),
        views.code_message(t, order(), Sms("&" * 10_000, NOW)),
        views.order_ended(t, order("CANCELLED")),
        views.order_ended(t, order("COMPLETED", 1)),
        views.history(t, [], {}, 0, False),
        views.history(t, HISTORY, {"tg": HOSTILE}, 1, True),
        views.language_menu(t),
        views.language_set(t),
        views.unknown_input(t),
        views.stats(t, STATS),
        views.broadcast_ask(t),
        views.broadcast_invalid(t, HOSTILE),
        views.broadcast_confirm(t, "b1", 1200),
        views.broadcast_progress(t, "b1", TALLY),
        views.broadcast_report(t, TALLY, cancelled=True),
        views.broadcast_progress_final(t, TALLY, cancelled=False),
        views.broadcast_dropped(t),
        views.broadcast_stopping(t),
        views.settings(t, muted=True),
        views.settings(t, muted=False, auto_replace=True, replace_after=0.5),
        views.order_card(t, REPLACEMENT, NOW),
        views.order_card(
            t, replace(order("CANCELLED"), replaced_by="+60111", replaces_left=2), NOW
        ),
        views.order_card(t, NOT_REPLACED, NOW),
        views.replacement_bought(t, order("CANCELLED"), REPLACEMENT),
        views.replacement_not_bought(t, NOT_REPLACED),
        *(views.purchase_failed(t, e, None, SITE) for e in errors),
    ]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_screen_is_valid_html_within_limits(language: str) -> None:
    for screen in screens(language):
        text, _ = parse_html(screen.text)
        assert 1 <= len(text) <= MessageLimit.MAX_TEXT_LENGTH
        assert "<b>x</b>" not in text or HOSTILE in text  # untrusted text is shown, not parsed


def test_countdown_moves_in_five_minute_steps_then_minutes() -> None:
    t = get_translator("en")
    left = [views.time_left(t, NOW + timedelta(seconds=s), NOW) for s in (1190, 1000, 610, 290, 30)]
    assert left == [
        "20 minutes left",
        "20 minutes left",
        "15 minutes left",
        "5 minutes left",
        "less than a minute left",
    ]


def test_the_card_shows_every_code_received_newest_last() -> None:
    t = get_translator("en")
    card = views.order_card(
        t, order("RECEIVED", 3), NOW, sms=["Code 111111", "No digits here", "Your code: 222-333"]
    )
    text, _ = parse_html(card.text)
    lines = text.splitlines()
    assert lines.index("🔑 111111") < lines.index("✉️ No digits here") < lines.index("🔑 222333")


@pytest.mark.parametrize("language", RTL)
def test_rtl_screens_copy_and_send_back_bare_values(language: str) -> None:
    for screen in screens(language):
        assert_no_bidi_in_copy(screen.markup)
        assert_no_bidi_in_code(screen.text)


def _quoted(line: str, depth: int) -> int:
    return depth + line.count("<blockquote>") - line.count("</blockquote>")


@pytest.mark.parametrize("language", RTL)
def test_rtl_screens_lay_every_line_of_their_own_right_to_left(language: str) -> None:
    for screen in screens(language):
        depth = 0
        for line in screen.text.split("\n"):
            if not depth and not line.startswith("<blockquote>"):
                assert line.startswith(RLM), f"{line!r} of {screen.text!r}"
            depth = _quoted(line, depth)


@pytest.mark.parametrize("language", RTL)
def test_rtl_phone_numbers_codes_and_ids_are_isolated_but_copied_bare(language: str) -> None:
    t = get_translator(language)
    card = views.order_card(t, order("RECEIVED", 1), NOW, sms=["Your code is 48213"])
    assert f"{LRI}<code>+60123456789</code>{PDI}" in card.text
    assert f"{LRI}<code>48213</code>{PDI}" in card.text
    assert f"<i>{LRI}ck_order-1{PDI}</i>" in card.text
    assert f"{LRI}{t.number(1)}{PDI}" in card.text
    assert card.markup is not None
    [copy] = [b for row in card.markup.inline_keyboard for b in row if b.copy_text]
    assert copy.copy_text is not None
    assert copy.copy_text.text == "+60123456789"

    code = views.code_message(t, order(), Sms("Your code is 48213", NOW))
    assert f"{LRI}+60123456789{PDI}" in code.text
    assert code.text.endswith("<blockquote>Your code is 48213</blockquote>")  # as received
    assert code.markup is not None
    [[button]] = code.markup.inline_keyboard
    assert button.text == t._("Copy code {code}").format(code=f"{LRI}48213{PDI}")
    assert button.copy_text is not None
    assert button.copy_text.text == "48213"

    ended = views.order_ended(t, order("CANCELLED"))
    assert f"{LRI}+60123456789{PDI}" in ended.text
    history = views.history(t, HISTORY, {}, 0, True)
    assert f"{LRI}{t.number(1)}{PDI}" in history.text
    assert history.markup is not None
    assert f"{LRI}+60123456789{PDI}" in history.markup.inline_keyboard[0][0].text
    help_screen = views.help_text(t, [("buy", "x")])
    assert f"{RLM}{LRI}/buy{PDI} — x" in help_screen.text.split("\n")


@pytest.mark.parametrize("language", sorted(set(LANGUAGES) - set(RTL)))
def test_ltr_screens_carry_no_directional_characters(language: str) -> None:
    for screen in screens(language):
        assert not {LRI, PDI, RLM} & set(screen.text), screen.text
