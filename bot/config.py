"""Frozen settings read from the environment, validated once at start.

Secrets (the bot token and the encryption key) are excluded from ``repr`` so printing the
settings, or a traceback that shows them, never leaks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A variable is missing or invalid; the message names it and never echoes a secret."""


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} seconds, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot needs to start.

    Attributes:
        telegram_token: The bot's token (secret).
        telegram_api_url: Root of the Bot API server; PTB's ``base_url`` is derived from it.
        jiema_api_url: Root of the jiema API (``…/api``); ignored in sandbox mode.
        data_dir: Holds the SQLite database and the generated encryption key.
        secret_key: Key encrypting users' API keys at rest, or None to use the generated one.
        poll_interval: Seconds between two polls of a key's active orders.
        api_timeout: Seconds to wait for the jiema API before giving up on a request.
        telegram_timeout: Seconds each of connect, read, write and pool of a Telegram request
            may take (``getUpdates`` adds its long-poll timeout to the read).
        log_level: Logging level name.
        sandbox: Start the built-in sandbox API and talk to it instead of jiema.my.
    """

    telegram_token: str = field(repr=False)
    telegram_api_url: str = "https://api.telegram.org"
    jiema_api_url: str = "https://jiema.my/api"
    data_dir: Path = Path("data")
    secret_key: str | None = field(default=None, repr=False)
    poll_interval: float = 3.0
    api_timeout: float = 15.0
    telegram_timeout: float = 10.0
    log_level: str = "INFO"
    sandbox: bool = False

    @property
    def bot_base_url(self) -> str:
        """PTB's ``base_url``: the token is appended to it."""
        return f"{self.telegram_api_url}/bot"

    @property
    def bot_file_url(self) -> str:
        """PTB's ``base_file_url``."""
        return f"{self.telegram_api_url}/file/bot"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "bot.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, sandbox: bool = False) -> Settings:
        """Read and validate the settings.

        Raises:
            ConfigError: naming the first missing or invalid variable.
        """
        env = os.environ if env is None else env
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is required (get one from @BotFather)")
        if ":" not in token or any(c.isspace() for c in token):
            raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token (id:secret)")
        level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
        if level not in _LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {level!r}")
        return cls(
            telegram_token=token,
            telegram_api_url=_url(env, "TELEGRAM_API_URL", "https://api.telegram.org"),
            jiema_api_url=_url(env, "JIEMA_API_URL", "https://jiema.my/api"),
            data_dir=Path(env.get("BOT_DATA_DIR", "").strip() or "data"),
            secret_key=env.get("BOT_SECRET_KEY", "").strip() or None,
            poll_interval=_seconds(env, "POLL_INTERVAL", 3.0, 0.05, 60.0),
            api_timeout=_seconds(env, "JIEMA_TIMEOUT", 15.0, 0.1, 120.0),
            telegram_timeout=_seconds(env, "TELEGRAM_TIMEOUT", 10.0, 0.1, 120.0),
            log_level=level,
            sandbox=sandbox,
        )
