"""Every screen, in every language, is valid Telegram HTML within Telegram's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from telegram.constants import MessageLimit

from bot import views
from bot.api import Account, Service, Sms
from bot.api import errors as api_errors
from bot.fakebotapi import parse_html
from bot.i18n import LANGUAGES, get_translator
from bot.services.catalog import Offer
from bot.store import StoredOrder

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOSTILE = '<b>x</b> & <a href="y">z</a> &amp; <tg-spoiler>'
ACCOUNT = Account("u1", 1234, HOSTILE, "en", None)
SERVICE = Service("tg", "telegram", HOSTILE, None, 10, 3)
OFFER = Offer(7, "my", HOSTILE, 32, 540)


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
        views.confirmation(t, SERVICE, OFFER, ACCOUNT, "tok_en"),
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
        views.language_menu(t),
        *(views.Screen(views.api_error(t, e)) for e in errors),
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
