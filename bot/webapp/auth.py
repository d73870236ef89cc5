"""Telegram Mini App ``initData``: checked exactly as Telegram documents it.

The page sends the raw ``initData`` string (``Telegram.WebApp.initData``) with every call as
``Authorization: tma <initData>``. The server recomputes the signature over that string as
received: ``secret = HMAC_SHA256(key="WebAppData", msg=bot_token)``; the data-check string is
every ``key=value`` pair except ``hash``, URL-decoded once, sorted by key, joined by ``\\n``;
valid when ``hex(HMAC_SHA256(key=secret, msg=data_check_string))`` equals ``hash``. Nothing is
re-encoded, so a ``user`` JSON rewritten in any way (even equivalently) fails the check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

DEFAULT_MAX_AGE = 3600.0
"""Seconds an ``initData`` stays acceptable after its ``auth_date`` (one hour)."""

FUTURE_SKEW = 60.0
"""Seconds an ``auth_date`` may lie ahead of our clock (clock drift), no more."""

_HASH = re.compile(r"[0-9a-f]{64}")
_MAX_LENGTH = 8192  # Telegram's initData is well under 2 KB; refuse to hash megabytes


class AuthFailure(StrEnum):
    """Why ``initData`` was refused (for logs and tests; the page shows one message)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_HASH = "bad_hash"
    STALE = "stale"
    FUTURE = "future"
    NO_USER = "no_user"


class InitDataError(Exception):
    """The ``initData`` is missing, forged, altered or too old."""

    def __init__(self, reason: AuthFailure) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WebAppUser:
    """The Telegram user the signed ``initData`` names: the only identity the API trusts."""

    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    auth_date: int


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The ``hash`` Telegram would put next to ``fields`` (for tests and the playground)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    return hmac.new(_secret(bot_token), check.encode(), hashlib.sha256).hexdigest()


class InitDataValidator:
    """Validates ``initData`` for one bot.

    Args:
        bot_token: The bot's token; only its HMAC-derived secret is kept.
        max_age: Seconds after ``auth_date`` an ``initData`` is still accepted.
        clock: Wall clock in Unix seconds, injectable for tests.
    """

    def __init__(
        self,
        bot_token: str,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = _secret(bot_token)
        self._max_age = max_age
        self._clock = clock

    def validate(self, init_data: str | None) -> WebAppUser:
        """Check ``init_data`` (the raw string as the page sent it) and name its user.

        Raises:
            InitDataError: missing, malformed, duplicated keys, bad hash, stale or future
                ``auth_date``, or no usable ``user``.
        """
        if not init_data:
            raise InitDataError(AuthFailure.MISSING)
        if len(init_data) > _MAX_LENGTH:
            raise InitDataError(AuthFailure.MALFORMED)
        try:
            pairs = parse_qsl(
                init_data, keep_blank_values=True, strict_parsing=True, errors="strict"
            )
        except ValueError:
            raise InitDataError(AuthFailure.MALFORMED) from None
        fields = dict(pairs)
        if len(fields) != len(pairs):  # a duplicated key: which one was signed is ambiguous
            raise InitDataError(AuthFailure.MALFORMED)
        received = fields.pop("hash", None)
        if received is None:
            raise InitDataError(AuthFailure.MISSING)
        if not _HASH.fullmatch(received):
            raise InitDataError(AuthFailure.BAD_HASH)
        check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
        expected = hmac.new(self._secret, check.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, received):
            raise InitDataError(AuthFailure.BAD_HASH)
        auth_date = self._auth_date(fields.get("auth_date"))
        return _user(fields.get("user"), auth_date)

    def _auth_date(self, raw: str | None) -> int:
        if raw is None or not raw.isdigit():
            raise InitDataError(AuthFailure.MALFORMED)
        auth_date = int(raw)
        now = self._clock()
        if auth_date > now + FUTURE_SKEW:
            raise InitDataError(AuthFailure.FUTURE)
        if now - auth_date > self._max_age:
            raise InitDataError(AuthFailure.STALE)
        return auth_date


def _user(raw: str | None, auth_date: int) -> WebAppUser:
    """The ``user`` field's JSON (already covered by the hash) as a typed user."""
    if raw is None:
        raise InitDataError(AuthFailure.NO_USER)
    try:
        data = json.loads(raw)
    except ValueError:
        raise InitDataError(AuthFailure.NO_USER) from None
    if not isinstance(data, dict):
        raise InitDataError(AuthFailure.NO_USER)
    user_id = data.get("id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise InitDataError(AuthFailure.NO_USER)

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    return WebAppUser(
        id=user_id,
        first_name=text("first_name") or "",
        last_name=text("last_name"),
        username=text("username"),
        language_code=text("language_code"),
        auth_date=auth_date,
    )
