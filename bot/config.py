"""Frozen settings read from the environment, validated once at start.

Secrets (the bot token and the encryption key) are excluded from ``repr`` so printing the
settings, or a traceback that shows them, never leaks them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.vault import KeyVault, VaultError

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A variable is missing or invalid; the message names it and never echoes a secret."""


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _host_port(name: str, raw: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name} must be host:port, got {raw!r}")
    return host.strip("[]"), int(port)


def listen_address(env: Mapping[str, str]) -> tuple[str, int]:
    """``HTTP_LISTEN`` as (host, port); default ``127.0.0.1:8080``."""
    return _host_port("HTTP_LISTEN", env.get("HTTP_LISTEN", "").strip() or "127.0.0.1:8080")


def _metrics_address(env: Mapping[str, str]) -> tuple[str, int] | None:
    """``METRICS_LISTEN`` as (host, port), or None to serve them on ``HTTP_LISTEN``."""
    raw = env.get("METRICS_LISTEN", "").strip()
    return _host_port("METRICS_LISTEN", raw) if raw else None


def _database_url(env: Mapping[str, str]) -> str | None:
    value = env.get("DATABASE_URL", "").strip()
    if not value:
        return None
    scheme = urlsplit(value).scheme
    if scheme not in ("postgresql", "postgres"):
        # Never echo the value: it usually carries a password.
        raise ConfigError("DATABASE_URL must be a postgresql:// URL (unset means SQLite)")
    return value


_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,256}")
_WEBHOOK_RULE = (
    "32-256 characters of A-Z a-z 0-9 _ - (generate one with "
    "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def _webhook(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    url = env.get("WEBHOOK_URL", "").strip() or None
    secret = env.get("WEBHOOK_SECRET", "").strip() or None
    if url is None:
        return None, None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"WEBHOOK_URL must be an http(s) URL, got {url!r}")
    if secret is None:
        raise ConfigError(f"WEBHOOK_SECRET is required with WEBHOOK_URL: {_WEBHOOK_RULE}")
    if not _SECRET_TOKEN.fullmatch(secret):
        # Never echo the value; its length is no secret worth keeping.
        raise ConfigError(
            f"WEBHOOK_SECRET must be {_WEBHOOK_RULE}; it has {len(secret)} characters"
        )
    return url, secret


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _webapp_url(env: Mapping[str, str]) -> str | None:
    """``WEBAPP_URL``: https, or plain http on a loopback address (tests, the playground)."""
    value = env.get("WEBAPP_URL", "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    host = parts.hostname or ""
    loopback = host in _LOOPBACK_HOSTS or host.startswith("127.")
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ConfigError(
            f"WEBAPP_URL must be an https URL (plain http only on loopback), got {value!r}"
        )
    return value if value.endswith("/") else value + "/"


def _admin_ids(env: Mapping[str, str]) -> frozenset[int]:
    """``ADMIN_IDS``: comma-separated Telegram user ids of the operators (may be empty)."""
    raw = env.get("ADMIN_IDS", "").strip()
    ids: set[int] = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if not part.isdecimal() or not 0 < int(part) < 2**63:
            raise ConfigError(
                f"ADMIN_IDS must be comma-separated Telegram user ids (positive integers), "
                f"got {part!r}"
            )
        ids.add(int(part))
    return frozenset(ids)


def _amount(
    env: Mapping[str, str], name: str, default: float, low: float, high: float, unit: str
) -> float:
    """A number of ``unit`` (seconds, minutes, hours), ``low`` to ``high``, fractions allowed."""
    raw = env.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of {unit}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g} {unit}, got {raw!r}")
    return value


def _count(
    env: Mapping[str, str], name: str, default: int, low: int, high: int, unit: str = ""
) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdecimal() or not low <= int(raw) <= high:
        of = f" of {unit}" if unit else ""
        raise ConfigError(f"{name} must be a whole number{of} from {low} to {high}, got {raw!r}")
    return int(raw)


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
        log_format: ``text`` (one readable line per record) or ``json`` (one object a line,
            for log aggregators).
        sandbox: Start the built-in sandbox API and talk to it instead of jiema.my.
        database_url: PostgreSQL URL (secret: it holds a password), or None for SQLite.
        webhook_url: Public URL Telegram delivers updates to; None means long polling.
        webhook_secret: ``secret_token`` Telegram sends back with every delivery (secret).
        http_host: Address the bot's HTTP server listens on (``HTTP_LISTEN``).
        http_port: Its port.
        metrics_listen: (host, port) serving ``/metrics`` and ``/healthz`` instead of
            ``HTTP_LISTEN`` (``METRICS_LISTEN``), or None to serve them there.
        webapp_url: Public URL of the Mini App (served by the HTTP server on its path), or
            None for no Mini App.
        webapp_max_age: Seconds a Mini App's ``initData`` is accepted after its ``auth_date``.
        webapp_rate: Mini App requests per minute one user may keep up (``WEBAPP_RATE``).
        webapp_burst: Mini App requests one user may make at once (``WEBAPP_BURST``).
        webapp_streams: Live order streams one user may hold open (``WEBAPP_STREAMS``).
        admin_ids: Telegram user ids of the operators (``ADMIN_IDS``): /stats, /broadcast.
        jiema_site_url: The jiema.my site users top up on (the API has no top-up endpoint).
        alert_hours: How long a back-in-stock alert waits before it lapses.
        alert_interval: Seconds between two rounds of the back-in-stock watcher.
        prices_ttl: Seconds one service's prices and stock are cached for everyone (browsing
            and the watcher share them: the watcher reads a service at most this often).
        replace_after: Minutes an order with auto-replace on may go without an SMS before
            its number is replaced (fractions allowed).
        replace_max: How many times one purchase's number is replaced at most (0: never).
        retention_days: Days SMS bodies, and the phone numbers of ended orders, are kept.
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
    log_format: str = "text"
    sandbox: bool = False
    database_url: str | None = field(default=None, repr=False)
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    metrics_listen: tuple[str, int] | None = None
    webapp_url: str | None = None
    webapp_max_age: float = 3600.0
    webapp_rate: int = 120
    webapp_burst: int = 30
    webapp_streams: int = 3
    admin_ids: frozenset[int] = frozenset()
    jiema_site_url: str = "https://jiema.my"
    alert_hours: float = 24.0
    alert_interval: float = 20.0
    prices_ttl: float = 60.0
    replace_after: float = 5.0
    replace_max: int = 3
    retention_days: int = 30

    @property
    def webhook_path(self) -> str | None:
        """The path of ``webhook_url`` our HTTP server receives updates on."""
        return (urlsplit(self.webhook_url).path or "/") if self.webhook_url else None

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
        log_format = (env.get("LOG_FORMAT", "").strip() or "text").lower()
        if log_format not in _LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be text or json, got {log_format!r}")
        database_url = _database_url(env)
        secret_key = env.get("BOT_SECRET_KEY", "").strip() or None
        if database_url is not None and secret_key is None:
            raise ConfigError(
                "BOT_SECRET_KEY is required with DATABASE_URL: every replica must encrypt users' "
                "keys with the same secret (generate one with python -c 'from bot.vault import "
                "generate_secret; print(generate_secret())', or reuse BOT_DATA_DIR/secret.key)"
            )
        if secret_key is not None:
            try:
                KeyVault.from_secret(secret_key)
            except VaultError as exc:
                raise ConfigError(
                    f"BOT_SECRET_KEY is not usable ({exc}); generate one with "
                    "python -c 'from bot.vault import generate_secret; print(generate_secret())'"
                ) from None
        webhook_url, webhook_secret = _webhook(env)
        http_host, http_port = listen_address(env)
        return cls(
            telegram_token=token,
            telegram_api_url=_url(env, "TELEGRAM_API_URL", "https://api.telegram.org"),
            jiema_api_url=_url(env, "JIEMA_API_URL", "https://jiema.my/api"),
            data_dir=Path(env.get("BOT_DATA_DIR", "").strip() or "data"),
            secret_key=secret_key,
            poll_interval=_amount(env, "POLL_INTERVAL", 3.0, 0.05, 60.0, "seconds"),
            api_timeout=_amount(env, "JIEMA_TIMEOUT", 15.0, 0.1, 120.0, "seconds"),
            telegram_timeout=_amount(env, "TELEGRAM_TIMEOUT", 10.0, 0.1, 120.0, "seconds"),
            log_level=level,
            log_format=log_format,
            sandbox=sandbox,
            database_url=database_url,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            http_host=http_host,
            http_port=http_port,
            metrics_listen=_metrics_address(env),
            webapp_url=_webapp_url(env),
            webapp_max_age=_amount(
                env, "WEBAPP_AUTH_MAX_AGE", 3600.0, 10.0, 7 * 86400.0, "seconds"
            ),
            webapp_rate=_count(env, "WEBAPP_RATE", 120, 1, 60_000),
            webapp_burst=_count(env, "WEBAPP_BURST", 30, 1, 10_000),
            webapp_streams=_count(env, "WEBAPP_STREAMS", 3, 1, 100),
            admin_ids=_admin_ids(env),
            jiema_site_url=_url(env, "JIEMA_SITE_URL", "https://jiema.my"),
            alert_hours=_amount(env, "ALERT_HOURS", 24.0, 1 / 60, 24.0 * 30, "hours"),
            alert_interval=_amount(env, "ALERT_INTERVAL", 20.0, 0.05, 600.0, "seconds"),
            prices_ttl=_amount(env, "PRICES_TTL", 60.0, 0.05, 3600.0, "seconds"),
            replace_after=_amount(env, "REPLACE_AFTER", 5.0, 0.01, 120.0, "minutes"),
            replace_max=_count(env, "REPLACE_MAX", 3, 0, 10),
            retention_days=_count(env, "RETENTION_DAYS", 30, 1, 3650, "days"),
        )
