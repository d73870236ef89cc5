"""initData validation: the documented check on the raw string, and every way to cheat it."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

import pytest

from bot.webapp.auth import AuthFailure, InitDataError, InitDataValidator
from tests.webapp.initdata import TOKEN, init_data

NOW = 1_800_000_000


def validator(max_age: float = 3600, now: float = NOW) -> InitDataValidator:
    return InitDataValidator(TOKEN, max_age=max_age, clock=lambda: now)


def refused(raw: str | None, check: InitDataValidator | None = None) -> AuthFailure:
    with pytest.raises(InitDataError) as caught:
        (check or validator()).validate(raw)
    return caught.value.reason


def test_a_signed_init_data_names_its_user() -> None:
    user = validator().validate(init_data(42, NOW - 10, first_name="Zoë", language_code="ru"))
    assert (user.id, user.first_name, user.language_code, user.auth_date) == (
        42,
        "Zoë",
        "ru",
        NOW - 10,
    )
    assert user.username == "user42"


def test_another_bots_token_is_a_forgery() -> None:
    assert refused(init_data(42, NOW, token="654321:OTHER")) is AuthFailure.BAD_HASH


def test_a_forged_hash_is_refused() -> None:
    raw = init_data(42, NOW)
    body, _, digest = raw.rpartition("hash=")
    flipped = ("0" if digest[0] != "0" else "1") + digest[1:]
    assert refused(body + "hash=" + flipped) is AuthFailure.BAD_HASH
    assert refused(body + "hash=" + digest.upper()) is AuthFailure.BAD_HASH
    assert refused(body + "hash=xyz") is AuthFailure.BAD_HASH


def test_an_altered_user_is_refused() -> None:
    raw = init_data(42, NOW)
    assert refused(raw.replace("%22id%22%3A42", "%22id%22%3A43")) is AuthFailure.BAD_HASH


def test_a_re_encoded_user_json_is_refused() -> None:
    """Same data, other spelling (spaces, unescaped slashes): not what Telegram signed."""
    fields = dict(parse_qsl(init_data(42, NOW)))
    for rewrite in (
        fields["user"].replace(",", ", "),
        fields["user"].replace("\\/", "/"),
    ):
        assert rewrite != fields["user"]
        forged = urlencode({**fields, "user": rewrite}, quote_via=quote)
        assert refused(forged) is AuthFailure.BAD_HASH


def test_the_raw_string_is_decoded_once_only() -> None:
    """Double-encoding a value changes what is checked, so it fails rather than passes."""
    fields = dict(parse_qsl(init_data(42, NOW)))
    forged = urlencode({**fields, "user": quote(fields["user"])}, quote_via=quote)
    assert refused(forged) is AuthFailure.BAD_HASH


def test_a_missing_hash_or_init_data_is_refused() -> None:
    raw = init_data(42, NOW)
    without = "&".join(p for p in raw.split("&") if not p.startswith("hash="))
    assert refused(without) is AuthFailure.MISSING
    assert refused("") is AuthFailure.MISSING
    assert refused(None) is AuthFailure.MISSING


def test_duplicated_keys_are_refused() -> None:
    raw = init_data(42, NOW)
    assert refused(raw + "&auth_date=" + str(NOW)) is AuthFailure.MALFORMED
    digest = raw.rpartition("hash=")[2]
    assert refused(raw + "&hash=" + digest) is AuthFailure.MALFORMED


def test_garbage_is_malformed() -> None:
    assert refused("not a query string") is AuthFailure.MALFORMED
    assert refused("a=%ff&hash=" + "0" * 64) is AuthFailure.MALFORMED
    assert refused("x" * 10_000) is AuthFailure.MALFORMED


def test_stale_auth_date_is_refused_and_the_limit_is_configurable() -> None:
    raw = init_data(42, NOW - 3601)
    assert refused(raw) is AuthFailure.STALE
    assert validator(max_age=7200).validate(raw).id == 42
    assert validator().validate(init_data(42, NOW - 3600)).id == 42


def test_a_future_auth_date_is_refused() -> None:
    assert refused(init_data(42, NOW + 3600)) is AuthFailure.FUTURE
    assert validator().validate(init_data(42, NOW + 30)).id == 42


def test_a_signed_init_data_without_a_usable_user_is_refused() -> None:
    assert refused(init_data(42, NOW, extra={"user": "[]"})) is AuthFailure.NO_USER
    assert refused(init_data(42, NOW, extra={"user": '{"id":"42"}'})) is AuthFailure.NO_USER
    assert refused(init_data(42, NOW, extra={"user": "{"})) is AuthFailure.NO_USER


def test_a_signed_init_data_without_auth_date_is_refused() -> None:
    raw = init_data(42, NOW, extra={"auth_date": "soon"})
    assert refused(raw) is AuthFailure.MALFORMED
