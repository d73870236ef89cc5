"""The parsers of ``bot.api.models``, fed hand-written and generated JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api import Account, Country, Order, OrderPage, Price, Service, Sms
from bot.api.errors import MalformedResponseError
from bot.api.models import listed_orders, parse_cents, parse_items, parse_time

CREATED: dict[str, Any] = {
    "id": "ck123",
    "status": "WAITING",
    "service": "tg",
    "country": "7",
    "phone": "+60123456789",
    "expiresAt": "2026-05-22T08:30:00.000Z",
    "chargedCents": "32",
}
"""The create response of the spec, verbatim."""

ACCOUNT: dict[str, Any] = {
    "id": "clxxxxxxxxxxx",
    "balanceCents": "1200",
    "referralCode": "abc123",
    "displayName": "Alice",
    "lang": "en",
}


def without(data: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != name}


# -- cents ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cents"),
    [("1200", 1200), ("0", 0), ("-5", -5), ("007", 7), ("999999999999999", 999_999_999_999_999)],
)
def test_cents_strings_become_ints(raw: str, cents: int) -> None:
    parsed = parse_cents(raw)
    assert parsed == cents
    assert type(parsed) is int


def test_plain_int_cents_are_tolerated() -> None:
    assert parse_cents(1200) == 1200


@pytest.mark.parametrize(
    "raw",
    [
        12.0,
        0.5,
        "12.5",
        "12.00",
        "1e3",
        "",
        " 12",
        "12 ",
        "+12",
        "١٢",
        "abc",
        True,
        False,
        None,
        [],
        {},
    ],
)
def test_cents_that_are_not_integers_are_rejected(raw: object) -> None:
    with pytest.raises(MalformedResponseError):
        parse_cents(raw, "priceCents")


# -- account ------------------------------------------------------------------------------------


def test_account_parses_the_spec_example() -> None:
    assert Account.from_api(ACCOUNT) == Account(
        id="clxxxxxxxxxxx",
        balance_cents=1200,
        display_name="Alice",
        lang="en",
        referral_code="abc123",
    )


def test_account_ignores_unknown_fields_and_allows_missing_optional_ones() -> None:
    account = Account.from_api({"id": "cl1", "balanceCents": "0", "vip": True, "tags": [1]})
    assert account == Account(
        id="cl1", balance_cents=0, display_name=None, lang=None, referral_code=None
    )


@pytest.mark.parametrize(
    "data",
    [
        without(ACCOUNT, "id"),
        without(ACCOUNT, "balanceCents"),
        ACCOUNT | {"balanceCents": 12.0},
        ACCOUNT | {"balanceCents": 12.5},
        ACCOUNT | {"balanceCents": True},
        ACCOUNT | {"balanceCents": None},
        ACCOUNT | {"balanceCents": "12.00"},
        ACCOUNT | {"id": 7},
        ACCOUNT | {"lang": 1},
        ACCOUNT | {"displayName": False},
    ],
)
def test_account_rejects_missing_or_mistyped_fields(data: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponseError):
        Account.from_api(data)


# -- catalogue ------------------------------------------------------------------------------------


def test_service_keeps_the_float_price_exact_and_defaults_optional_fields() -> None:
    service = Service.from_api(
        {"code": "tg", "slug": "telegram", "name": "Telegram", "minCostUsd": 0.18,
         "totalCount": 1234, "countryCount": 24, "popular": True}
    )  # fmt: skip
    assert service == Service("tg", "telegram", "Telegram", Decimal("0.18"), 1234, 24)
    assert Service.from_api({"code": "xx"}) == Service("xx", "xx", "xx", None, 0, 0)


@pytest.mark.parametrize(
    "data",
    [
        {"slug": "telegram"},
        {"code": 5},
        {"code": "tg", "minCostUsd": "cheap"},
        {"code": "tg", "minCostUsd": True},
        {"code": "tg", "totalCount": 1.0},
        {"code": "tg", "totalCount": "12"},
        {"code": "tg", "countryCount": False},
    ],
)
def test_service_rejects_missing_or_mistyped_fields(data: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponseError):
        Service.from_api(data)


def test_country_parses_and_rejects() -> None:
    assert Country.from_api({"id": 7, "slug": "my", "name": "Malaysia", "x": 1}) == Country(
        7, "my", "Malaysia"
    )
    assert Country.from_api({"id": 7, "slug": "my"}).name == "my"
    for bad in ({"id": "7", "slug": "my"}, {"id": 7.0, "slug": "my"}, {"id": 7}, {"slug": "my"}):
        with pytest.raises(MalformedResponseError):
            Country.from_api(bad)


def test_price_parses_cents_strings_and_rejects_floats() -> None:
    item = {"countryId": 7, "countrySlug": "my", "priceCents": "32", "count": 540}
    assert Price.from_api(item) == Price(7, "my", 32, 540)
    assert Price.from_api({"countryId": 7, "priceCents": "32"}) == Price(7, "", 32, 0)
    for bad in (
        item | {"priceCents": 0.32},
        item | {"priceCents": "0.32"},
        item | {"priceCents": False},
        item | {"countryId": "7"},
        item | {"count": True},
        without(item, "priceCents"),
    ):
        with pytest.raises(MalformedResponseError):
            Price.from_api(bad)


def test_parse_items_wants_a_list_of_objects() -> None:
    assert parse_items({"items": [{"a": 1}]}) == [{"a": 1}]
    bads: tuple[dict[str, object], ...] = (
        {},
        {"items": None},
        {"items": {"a": 1}},
        {"items": [1]},
        {"items": [[]]},
    )
    for bad in bads:
        with pytest.raises(MalformedResponseError):
            parse_items(bad)


# -- orders ---------------------------------------------------------------------------------------


def test_order_parses_the_spec_create_response() -> None:
    order = Order.from_api(CREATED)
    assert order == Order(
        id="ck123",
        status="WAITING",
        service="tg",
        country="7",
        phone="+60123456789",
        expires_at=datetime(2026, 5, 22, 8, 30, tzinfo=UTC),
        charged_cents=32,
    )
    assert not order.is_final
    assert order.sms_body is None


def test_order_parses_received_with_history_newest_last() -> None:
    order = Order.from_api(
        CREATED
        | {
            "status": "RECEIVED",
            "smsBody": "second 2",
            "smsHistory": [
                {"body": "first 1", "receivedAt": "2026-05-22T08:12:34.000Z"},
                {"body": "second 2", "receivedAt": "2026-05-22T08:14:00.500Z", "x": 1},
            ],
            "smsReceivedAt": "2026-05-22T08:14:00.500Z",
            "createdAt": "2026-05-22T08:10:00.000Z",
        }
    )
    assert [sms.body for sms in order.sms_history] == ["first 1", "second 2"]
    assert order.sms_body == "second 2"
    assert order.sms_history[1].received_at == datetime(2026, 5, 22, 8, 14, 0, 500_000, UTC)
    assert order.created_at == datetime(2026, 5, 22, 8, 10, tzinfo=UTC)


def test_an_sms_body_without_history_is_the_one_sms_so_far() -> None:
    order = Order.from_api(
        CREATED
        | {"status": "RECEIVED", "smsBody": "code 1", "smsReceivedAt": "2026-05-22T08:12:34Z"}
    )
    assert order.sms_history == (Sms("code 1", datetime(2026, 5, 22, 8, 12, 34, tzinfo=UTC)),)
    assert order.sms_body == "code 1"
    no_time = Order.from_api(CREATED | {"status": "RECEIVED", "smsBody": "code 1"})
    assert no_time.sms_history == (Sms("code 1", None),)


def test_a_minimal_order_needs_only_id_and_status() -> None:
    order = Order.from_api({"id": "ck1", "status": "CANCELLED"})
    assert order == Order("ck1", "CANCELLED")
    assert order.is_final


@pytest.mark.parametrize(
    ("status", "final"),
    [("WAITING", False), ("RECEIVED", False), ("COMPLETED", True), ("FAILED", True),
     ("CANCELLED", True), ("REFUNDING", False), ("waiting", False), ("", False)],
)  # fmt: skip
def test_unknown_statuses_are_kept_and_not_final(status: str, final: bool) -> None:
    order = Order.from_api(CREATED | {"status": status})
    assert order.status == status
    assert order.is_final is final


def test_a_numeric_country_becomes_a_string() -> None:
    assert Order.from_api(CREATED | {"country": 7}).country == "7"


def test_order_times_become_aware_utc() -> None:
    offset = Order.from_api(CREATED | {"expiresAt": "2026-05-22T10:30:00+02:00"})
    naive = Order.from_api(CREATED | {"expiresAt": "2026-05-22T08:30:00"})
    expected = datetime(2026, 5, 22, 8, 30, tzinfo=UTC)
    assert offset.expires_at == naive.expires_at == expected
    assert offset.expires_at is not None
    assert offset.expires_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "data",
    [
        without(CREATED, "id"),
        without(CREATED, "status"),
        CREATED | {"id": None},
        CREATED | {"status": 1},
        CREATED | {"chargedCents": 0.32},
        CREATED | {"chargedCents": "0.32"},
        CREATED | {"chargedCents": True},
        CREATED | {"expiresAt": "tomorrow"},
        CREATED | {"expiresAt": 1_780_000_000},
        CREATED | {"country": 7.0},
        CREATED | {"country": True},
        CREATED | {"phone": 60123456789},
        CREATED | {"smsBody": 123456},
        CREATED | {"smsHistory": "code"},
        CREATED | {"smsHistory": ["code"]},
        CREATED | {"smsHistory": [{"receivedAt": "2026-05-22T08:12:34Z"}]},
        CREATED | {"smsHistory": [{"body": "x", "receivedAt": "later"}]},
    ],
)
def test_order_rejects_missing_or_mistyped_fields(data: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponseError):
        Order.from_api(data)


def test_order_page_parses_items_and_cursor() -> None:
    page = OrderPage.from_api({"items": [CREATED, CREATED | {"id": "ck2"}], "nextCursor": "ck2"})
    assert [order.id for order in page.items] == ["ck123", "ck2"]
    assert page.next_cursor == "ck2"
    last = OrderPage.from_api({"items": [], "nextCursor": None})
    assert last == OrderPage((), None)
    assert OrderPage.from_api({"items": []}).next_cursor is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"items": None},
        {"items": {"id": "ck1"}},
        {"items": ["ck1"]},
        {"items": [{"id": "ck1"}]},
        {"items": [], "nextCursor": 5},
    ],
)
def test_order_page_rejects_malformed_pages(data: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponseError):
        OrderPage.from_api(data)


def test_listed_orders_parses_only_the_watched_entries_of_a_page() -> None:
    page = {
        "items": [
            CREATED,
            CREATED | {"id": "ck2", "status": "CANCELLED"},
            {"id": "ck3"},  # malformed, but not watched: neither parsed nor checked
            "ck4",
            {"id": ["ck5"]},
        ],
        "nextCursor": "ck5",
    }
    listed = listed_orders(page, {"ck2", "ck9"})
    assert list(listed) == ["ck2"]
    assert listed["ck2"] == Order.from_api(CREATED | {"id": "ck2", "status": "CANCELLED"})
    with pytest.raises(MalformedResponseError):
        listed_orders(page, {"ck3"})  # a watched entry must be whole
    with pytest.raises(MalformedResponseError):
        listed_orders({"items": None}, {"ck2"})


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-01T00:00:00Z", "", "Z"],
)
def test_timestamps_out_of_range_or_invalid_are_malformed(value: str) -> None:
    with pytest.raises(MalformedResponseError):
        parse_time(value, "expiresAt")


# -- any JSON at all ------------------------------------------------------------------------------

FIELDS = sorted(
    {"id", "status", "service", "country", "phone", "expiresAt", "chargedCents", "createdAt",
     "smsBody", "smsHistory", "smsReceivedAt", "body", "receivedAt", "balanceCents",
     "referralCode", "displayName", "lang", "code", "slug", "name", "minCostUsd", "totalCount",
     "countryCount", "countryId", "countrySlug", "priceCents", "count", "items", "nextCursor"}
)  # fmt: skip

PLAUSIBLE = (
    st.from_regex(r"-?[0-9]{1,16}", fullmatch=True)
    | st.datetimes(timezones=st.builds(timezone, st.timedeltas(-timedelta(hours=23),
                                                               timedelta(hours=23)))
                   ).map(datetime.isoformat)
    | st.sampled_from(["WAITING", "RECEIVED", "CANCELLED", "Z", "NaN", "Infinity", "1e999999"])
)  # fmt: skip
"""Strings shaped like the API's: cents, timestamps, statuses, odd numbers."""

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | PLAUSIBLE

JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=8)
    ),
    max_leaves=30,
)
"""Any JSON-like value; objects mostly use the API's field names, so parsing gets deep."""

PARSERS = [Order.from_api, Account.from_api, OrderPage.from_api, Service.from_api, Price.from_api]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda parse: parse.__qualname__)
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(value=JSON)
def test_any_json_either_parses_or_is_malformed(parse: Any, value: Any) -> None:
    try:
        result = parse(value)
    except MalformedResponseError:
        return
    assert isinstance(result, (Order, Account, OrderPage, Service, Price))
