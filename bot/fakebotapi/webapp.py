"""Mini App launch, as a Telegram client does it: signed ``initData`` and the launch URL.

A client opening a Mini App loads its URL with launch parameters in the fragment
(``#tgWebAppData=…&tgWebAppVersion=…&tgWebAppPlatform=…&tgWebAppThemeParams=…``);
``telegram-web-app.js`` reads them into ``window.Telegram.WebApp``.  ``tgWebAppData`` is the
``initData`` query string, signed with the bot's token: ``secret = HMAC_SHA256(key="WebAppData",
msg=token)`` and ``hash = hex(HMAC_SHA256(key=secret, msg=data_check_string))``, where
``data_check_string`` is every field but ``hash`` as ``key=value``, sorted by key, joined by
``\\n``.  The Telegram Mini Apps project's reference vector checks this implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

# Typical colours of Telegram's light and dark themes (not any one client's exact palette),
# under the keys Telegram sends in themeParams.
LIGHT_THEME: dict[str, str] = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
    "header_bg_color": "#ffffff",
    "bottom_bar_bg_color": "#ffffff",
    "accent_text_color": "#2481cc",
    "section_bg_color": "#ffffff",
    "section_header_text_color": "#6d6d72",
    "section_separator_color": "#e7e7e7",
    "subtitle_text_color": "#999999",
    "destructive_text_color": "#ff3b30",
}
DARK_THEME: dict[str, str] = {
    "bg_color": "#212121",
    "text_color": "#ffffff",
    "hint_color": "#aaaaaa",
    "link_color": "#8774e1",
    "button_color": "#8774e1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#0f0f0f",
    "header_bg_color": "#212121",
    "bottom_bar_bg_color": "#212121",
    "accent_text_color": "#8774e1",
    "section_bg_color": "#212121",
    "section_header_text_color": "#aaaaaa",
    "section_separator_color": "#000000",
    "subtitle_text_color": "#aaaaaa",
    "destructive_text_color": "#ff595a",
}


def user_json(user: dict[str, Any]) -> str:
    """The ``user`` field as Telegram writes it: compact JSON, non-ASCII as is, ``/`` as
    ``\\/`` (so a server that re-encodes the field instead of checking it raw fails)."""
    return json.dumps(user, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


def sign_init_data(
    token: str,
    user: dict[str, Any],
    *,
    auth_date: int,
    query_id: str | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    """Signed ``initData`` for ``user``, URL-encoded as the client passes it.

    Args:
        token: The bot token the Mini App's server checks against.
        user: The ``WebAppUser`` object (``id``, ``first_name``, ``language_code``…), in the
            key order it is to be serialised in.
        auth_date: Unix seconds of the launch.
        query_id: Present for launches from inline buttons and the menu button.
        extra: More fields, e.g. ``chat_type``, ``chat_instance``, ``start_param``,
            ``signature``; all of them are signed.

    Returns:
        ``query_id=…&user=…&auth_date=…&…&hash=…``.
    """
    fields: dict[str, str] = {}
    if query_id is not None:
        fields["query_id"] = query_id
    fields["user"] = user_json(user)
    fields["auth_date"] = str(auth_date)
    fields.update(extra or {})
    if "hash" in fields:
        raise ValueError("hash is computed, not given")
    fields["hash"] = init_data_hash(token, fields)
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in fields.items())


def init_data_hash(token: str, fields: dict[str, str]) -> str:
    """Telegram's ``hash`` of decoded ``initData`` fields (a ``hash`` field is left out)."""
    data_check_string = "\n".join(
        f"{key}={value}" for key, value in sorted(fields.items()) if key != "hash"
    )
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, data_check_string.encode(), hashlib.sha256).hexdigest()


def launch_url(
    app_url: str,
    init_data: str,
    *,
    theme: dict[str, str],
    version: str = "8.0",
    platform: str = "tdesktop",
) -> str:
    """The URL a client loads to open the Mini App at ``app_url``.

    The launch parameters go into the fragment, each value URL-encoded (``initData`` once
    more, as Telegram does, and the theme as JSON); a fragment already in ``app_url`` follows
    them.
    """
    base, _, fragment = app_url.partition("#")
    params = {
        "tgWebAppData": init_data,
        "tgWebAppVersion": version,
        "tgWebAppPlatform": platform,
        "tgWebAppThemeParams": json.dumps(theme, separators=(",", ":")),
    }
    launch = "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())
    return f"{base}#{launch}" + (f"&{fragment}" if fragment else "")
