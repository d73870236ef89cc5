"""Building ``initData`` the way Telegram does, signed with the test bot's token."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from bot.webapp.auth import sign

TOKEN = "123456:TEST-webapp-token"


def user_json(user_id: int, first_name: str = "Alice", language_code: str = "en") -> str:
    """The ``user`` field as Telegram's clients write it (compact JSON, escaped slashes)."""
    data: dict[str, Any] = {
        "id": user_id,
        "first_name": first_name,
        "last_name": "",
        "username": f"user{user_id}",
        "language_code": language_code,
        "allows_write_to_pm": True,
        "photo_url": "https:\\/\\/t.me\\/i\\/userpic\\/320\\/x.svg",
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("\\\\/", "\\/")


def init_data(
    user_id: int,
    auth_date: int,
    *,
    first_name: str = "Alice",
    language_code: str = "en",
    token: str = TOKEN,
    extra: dict[str, str] | None = None,
) -> str:
    """A signed ``initData`` query string for ``user_id``."""
    fields = {
        "query_id": f"AAH{user_id}",
        "user": user_json(user_id, first_name, language_code),
        "auth_date": str(auth_date),
        "signature": "c2lnbmF0dXJl",
        **(extra or {}),
    }
    fields["hash"] = sign(fields, token)
    return urlencode(fields, quote_via=quote)
