"""Keyboards: within Telegram's limits, every button's data parses back, paging is right."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardMarkupLimit

from bot import callbacks as cb
from bot import keyboards
from bot.i18n import get_translator
from bot.services.models import Service

t = get_translator("en")


def services(count: int) -> list[Service]:
    return [Service(f"s{i}", f"s{i}", f"Service {i}", None, 1, 1) for i in range(count)]


def check(markup: InlineKeyboardMarkup) -> list[cb.Callback]:
    rows = markup.inline_keyboard
    assert sum(len(row) for row in rows) <= InlineKeyboardMarkupLimit.TOTAL_BUTTON_NUMBER
    assert all(len(row) <= InlineKeyboardMarkupLimit.BUTTONS_PER_ROW for row in rows)
    parsed = []
    for row in rows:
        for button in row:
            if button.callback_data is not None:
                data = cb.parse(str(button.callback_data))
                assert data is not None, button
                parsed.append(data)
    return parsed


@pytest.mark.parametrize(("page", "arrows"), [(0, ["›"]), (1, ["‹", "›"]), (58, ["‹"])])
def test_service_pages_have_arrows_only_where_there_is_somewhere_to_go(
    page: int, arrows: list[str]
) -> None:
    markup = keyboards.services(t, services(700), page)
    check(markup)
    nav = [b.text for b in markup.inline_keyboard[-2]]
    assert [x for x in nav if x in "‹›"] == arrows
    assert f"{page + 1}/59" in nav


def test_country_page_keeps_the_service_in_every_button() -> None:
    items = [(i, f"Country {i}") for i in range(190)]
    parsed = check(keyboards.countries(t, "tg", items, 3))
    picks = [p for p in parsed if isinstance(p, cb.PickCountry)]
    assert [p.country_id for p in picks] == list(range(24, 32))
    assert all(p.service == "tg" for p in picks)
    assert cb.CountryPage("tg", 2) in parsed
    assert cb.CountryPage("tg", 4) in parsed


def test_page_numbers_from_stale_buttons_are_clamped() -> None:
    assert keyboards.clamp_page(99, 10, keyboards.SERVICES_PER_PAGE) == 0
    assert keyboards.clamp_page(-1, 100, keyboards.SERVICES_PER_PAGE) == 0
    assert keyboards.clamp_page(99, 100, keyboards.SERVICES_PER_PAGE) == 8


@pytest.mark.parametrize(
    ("status", "sms", "labels"),
    [
        ("WAITING", 0, ["Cancel order", "Refresh", "Copy number", "Buy again", "★ Favourite"]),
        ("RECEIVED", 1, ["Another SMS", "Refresh", "Copy number", "Buy again", "★ Favourite"]),
        ("WAITING", 1, ["Refresh", "Copy number", "Buy again", "★ Favourite"]),
        ("CANCELLED", 0, ["Buy again", "★ Favourite"]),
        ("SOMETHING_NEW", 0, ["Refresh", "Copy number", "Buy again", "★ Favourite"]),
    ],
)
def test_order_card_buttons_fit_the_state(status: str, sms: int, labels: list[str]) -> None:
    markup = keyboards.order_card(t, "ck123", status, sms, "+60123456789")
    assert markup is not None
    check(markup)
    assert [b.text for row in markup.inline_keyboard for b in row] == labels


def test_an_order_id_that_cannot_travel_in_callback_data_gets_no_buttons() -> None:
    assert keyboards.order_card(t, "id with spaces", "WAITING", 0, "+1") is None


def labels_of(markup: InlineKeyboardMarkup) -> list[str]:
    return [b.text for row in markup.inline_keyboard for b in row]


def test_confirm_has_buy_only_when_affordable() -> None:
    assert labels_of(keyboards.confirm(t, "tg", "tok")) == ["Buy", "‹ Countries", "Cancel"]
    assert labels_of(keyboards.confirm(t, "tg", None)) == ["‹ Countries", "Cancel"]


def test_a_remembered_button_sends_and_compares_as_a_plain_one() -> None:
    """Buttons turn into JSON once (``_CallbackButton``): what PTB sends is what a plain
    button gives, each send gets its own copy, and a tapped message's parsed keyboard
    still equals (and hashes as) the one the bot built."""
    markup = keyboards.services(t, services(30), 1)
    plain = InlineKeyboardMarkup.de_json(markup.to_dict(), None)  # as a tap brings it back
    assert plain is not None
    for ours, parsed in zip(
        (b for row in markup.inline_keyboard for b in row),
        (b for row in plain.inline_keyboard for b in row),
        strict=True,
    ):
        assert type(parsed) is InlineKeyboardButton
        assert ours.to_dict() == InlineKeyboardButton.to_dict(parsed)
        assert ours == parsed
        assert parsed == ours
        assert hash(ours) == hash(parsed)
    assert markup == plain
    assert plain == markup
    sent = markup.to_dict()
    sent["inline_keyboard"][0][0]["text"] = "changed by whoever got it"
    assert markup.to_dict() != sent
