"""Settings from the environment: defaults, validation, and secrets kept out of sight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.vault import generate_secret

TOKEN = "123456:AAE-secret-token"
SECRET = generate_secret()
HOOK_SECRET = "hook-secret_0123456789abcdefghijklmnop"


def test_defaults() -> None:
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.bot_base_url == "https://api.telegram.org/bot"
    assert settings.jiema_api_url == "https://jiema.my/api"
    assert settings.data_dir == Path("data")
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.poll_interval == 3.0
    assert 3 <= settings.poll_interval <= 5
    assert settings.api_timeout == 15.0
    assert settings.telegram_timeout == 10.0
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert settings.secret_key is None


def test_everything_can_be_set() -> None:
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
            "JIEMA_API_URL": "http://127.0.0.1:9000/api/",
            "BOT_DATA_DIR": "/var/lib/bot",
            "BOT_SECRET_KEY": SECRET,
            "POLL_INTERVAL": "4.5",
            "JIEMA_TIMEOUT": "2",
            "TELEGRAM_TIMEOUT": "3.5",
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "JSON",
        },
        sandbox=True,
    )
    assert settings.bot_base_url == "http://127.0.0.1:8081/bot"
    assert settings.jiema_api_url == "http://127.0.0.1:9000/api"
    assert settings.data_dir == Path("/var/lib/bot")
    assert (settings.poll_interval, settings.api_timeout) == (4.5, 2.0)
    assert settings.telegram_timeout == 3.5
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert settings.sandbox


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "TELEGRAM_BOT_TOKEN is required"),
        ({"TELEGRAM_BOT_TOKEN": "no-colon"}, "TELEGRAM_BOT_TOKEN does not look like"),
        ({"TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL must be an http(s) URL"),
        ({"JIEMA_API_URL": "jiema.my"}, "JIEMA_API_URL must be an http(s) URL"),
        ({"POLL_INTERVAL": "fast"}, "POLL_INTERVAL must be a number"),
        ({"POLL_INTERVAL": "0"}, "POLL_INTERVAL must be between"),
        ({"JIEMA_TIMEOUT": "-1"}, "JIEMA_TIMEOUT must be between"),
        ({"TELEGRAM_TIMEOUT": "0"}, "TELEGRAM_TIMEOUT must be between"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be text or json"),
        ({"HTTP_LISTEN": "8080"}, "HTTP_LISTEN must be host:port"),
        ({"BOT_SECRET_KEY": "too-short"}, "BOT_SECRET_KEY is not usable"),
        ({"HTTP_LISTEN": "0.0.0.0:http"}, "HTTP_LISTEN must be host:port"),
        ({"DATABASE_URL": "mysql://u:p@h/db"}, "DATABASE_URL must be a postgresql:// URL"),
        (
            {"DATABASE_URL": "postgresql://u:p@h/db"},
            "BOT_SECRET_KEY is required with DATABASE_URL",
        ),
        ({"WEBHOOK_URL": "https://bot.example/hook"}, "WEBHOOK_SECRET is required"),
        (
            {"WEBHOOK_URL": "https://bot.example/hook", "WEBHOOK_SECRET": "no spaces " * 4},
            "WEBHOOK_SECRET must be 32-256 characters",
        ),
        (
            {"WEBHOOK_URL": "https://bot.example/hook", "WEBHOOK_SECRET": "a" * 31},
            "WEBHOOK_SECRET must be 32-256 characters",
        ),
        ({"METRICS_LISTEN": "9100"}, "METRICS_LISTEN must be host:port"),
        ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS must be a whole number of days"),
        ({"RETENTION_DAYS": "2.5"}, "RETENTION_DAYS must be a whole number of days"),
        ({"WEBHOOK_URL": "bot.example/hook", "WEBHOOK_SECRET": "s"}, "WEBHOOK_URL must be"),
        ({"WEBAPP_URL": "http://bot.example/app/"}, "WEBAPP_URL must be an https URL"),
        ({"WEBAPP_URL": "ftp://127.0.0.1/app/"}, "WEBAPP_URL must be an https URL"),
    ],
)
def test_a_bad_variable_is_named(env: dict[str, str], named: str) -> None:
    base = {} if "TELEGRAM_BOT_TOKEN" in str(env) or not env else {"TELEGRAM_BOT_TOKEN": TOKEN}
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env({**base, **env})


def test_secrets_never_show_in_repr() -> None:
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_SECRET_KEY": SECRET,
            "DATABASE_URL": "postgresql://bot:pg-password@db/bot",
            "WEBHOOK_URL": "https://bot.example/hook",
            "WEBHOOK_SECRET": HOOK_SECRET,
        }
    )
    for secret in (TOKEN, SECRET, "pg-password", HOOK_SECRET):
        assert secret not in repr(settings)


def test_deployment_settings() -> None:
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_SECRET_KEY": SECRET,
            "DATABASE_URL": "postgresql://bot:pw@db:5432/bot",
            "WEBHOOK_URL": "https://bot.example/telegram/webhook",
            "WEBHOOK_SECRET": "A-z_09" * 6,
            "HTTP_LISTEN": "10.0.0.5:9000",
            "METRICS_LISTEN": "127.0.0.1:9100",
        }
    )
    assert settings.metrics_listen == ("127.0.0.1", 9100)
    assert settings.database_url == "postgresql://bot:pw@db:5432/bot"
    assert settings.webhook_path == "/telegram/webhook"
    assert (settings.http_host, settings.http_port) == ("10.0.0.5", 9000)
    defaults = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert (defaults.database_url, defaults.webhook_url, defaults.webhook_path) == (None,) * 3
    assert (defaults.http_host, defaults.http_port) == ("127.0.0.1", 8080)
    assert defaults.metrics_listen is None
    assert defaults.retention_days == 30
    assert (
        Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "RETENTION_DAYS": "7"}).retention_days == 7
    )
    assert defaults.webapp_url is None


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://bot.example/app", "https://bot.example/app/"),
        ("http://127.0.0.1:8081/app/", "http://127.0.0.1:8081/app/"),
        ("http://localhost:8081/app/", "http://localhost:8081/app/"),
    ],
)
def test_the_mini_app_url_is_https_or_loopback(given: str, kept: str) -> None:
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "WEBAPP_URL": given})
    assert settings.webapp_url == kept


def test_the_command_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "BOT_DATA_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is required" in result.stderr


def test_shop_settings() -> None:
    defaults = Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert defaults.jiema_site_url == "https://jiema.my"
    assert (defaults.alert_hours, defaults.alert_interval, defaults.prices_ttl) == (24, 20, 60)
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "JIEMA_SITE_URL": "https://jiema.example/top-up/",
            "ALERT_HOURS": "6",
            "ALERT_INTERVAL": "0.5",
            "PRICES_TTL": "30",
        }
    )
    assert settings.jiema_site_url == "https://jiema.example/top-up"
    assert (settings.alert_hours, settings.alert_interval, settings.prices_ttl) == (6, 0.5, 30)
    for env, named in (
        ({"JIEMA_SITE_URL": "jiema.my"}, "JIEMA_SITE_URL must be an http"),
        ({"ALERT_HOURS": "0"}, "ALERT_HOURS must be between"),
        ({"ALERT_HOURS": "soon"}, "ALERT_HOURS must be a number of hours"),
        ({"ALERT_INTERVAL": "0"}, "ALERT_INTERVAL must be between"),
        ({"PRICES_TTL": "-5"}, "PRICES_TTL must be between"),
    ):
        with pytest.raises(ConfigError, match=named):
            Settings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, **env})
