"""Log lines: secrets redacted in every spelling, text or JSON with the replica and user."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from bot import logs
from bot.config import Settings

TOKEN = "7312345678:AAHk2mD9xQ_vT3nB8wL5pR0sY6uJ4cE1fGz"
WEBHOOK = "whs_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SECRET_KEY = "ZTJlLXNoYXJlZC1zZWNyZXQtb2YtZXZlcnktcmVwbGk="
PASSWORD = "p@ss/w0rd-Secret!"
DATABASE = f"postgresql://bot:{quote(PASSWORD, safe='')}@db.internal:5432/bot"


def settings() -> Settings:
    return Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "WEBHOOK_URL": "https://bot.example/telegram/webhook",
            "WEBHOOK_SECRET": WEBHOOK,
            "BOT_SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": DATABASE,
        }
    )


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger configured as at start, writing into a buffer."""
    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def configure(stream: io.StringIO, log_format: str) -> None:
    logs.configure(
        "DEBUG", logs.secrets_of(settings()), log_format=log_format, user_key=TOKEN.encode()
    )
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)


@pytest.mark.parametrize(
    "line",
    [
        f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getMe",
        f"url https://api.telegram.org/bot{quote(TOKEN, safe='')}/getMe",
        f"Calling setWebhook with parameters {{'url': 'x', 'secret_token': '{WEBHOOK}'}}",
        f"X-Telegram-Bot-Api-Secret-Token: {WEBHOOK}",
        f"secret is {SECRET_KEY}",
        f"connecting to {DATABASE}",
        f"password {PASSWORD} refused",
        f"password {quote(PASSWORD, safe='')} refused",
    ],
)
def test_each_configured_secret_is_redacted(line: str) -> None:
    redacted = logs.Redactor(logs.secrets_of(settings()))(line)
    assert "[redacted]" in redacted
    for secret in (TOKEN, WEBHOOK, SECRET_KEY, PASSWORD, quote(PASSWORD, safe="")):
        assert secret not in redacted
    assert TOKEN.split(":")[1] not in redacted


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/link jm_AbCdEf0123456789xyz_-Q", "/link jm_[redacted]"),
        ("bot 5512345678:AAF-another-bots-token-0123456789ab", "bot [redacted]"),
        ("postgresql://u:hunter2@h/db", "postgresql://u:[redacted]@h/db"),
        (
            "GET /app/api/orders/1/events?initData=query_id%3DAAH&x=1",
            "GET /app/api/orders/1/events?initData=[redacted]&x=1",
        ),
        ("secret_token=abc", "secret_token=[redacted]"),
    ],
)
def test_what_looks_like_a_secret_is_redacted_without_being_configured(
    line: str, expected: str
) -> None:
    assert logs.Redactor()(line) == expected


def test_a_short_password_is_redacted_only_where_it_stands_for_one() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "123456:TEST", "BOT_SECRET_KEY": SECRET_KEY}
    url = "postgresql://postgres:postgres@h/db"
    redact = logs.Redactor(logs.secrets_of(Settings.from_env(env | {"DATABASE_URL": url})))
    assert redact(f"token 123456:TEST, url {url}") == "token [redacted], url [redacted]"
    assert (
        redact("postgresql://postgres:postgres@h2/db") == "postgresql://postgres:[redacted]@h2/db"
    )
    assert redact("PostgreSQL: postgres refused") == "PostgreSQL: postgres refused"


def test_text_lines_redact_messages_arguments_and_tracebacks(captured: io.StringIO) -> None:
    configure(captured, "text")
    log = logging.getLogger("telegram.ext.ExtBot")
    log.debug("Calling %s with %s", "setWebhook", {"secret_token": WEBHOOK})
    try:
        raise RuntimeError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")
    except RuntimeError:
        logging.getLogger("bot").exception("failed with key jm_AbCdEf0123456789")
    text = captured.getvalue()
    assert "DEBUG telegram.ext.ExtBot: Calling setWebhook with" in text
    assert "RuntimeError: cannot reach https://api.telegram.org/bot[redacted]/getMe" in text
    for secret in (WEBHOOK, TOKEN, "jm_AbCdEf0123456789"):
        assert secret not in text


def test_json_lines_have_the_fields_and_a_hashed_user(captured: io.StringIO) -> None:
    configure(captured, "json")
    logs.set_replica("host:123")

    async def handle(user_id: int) -> None:
        logs.bind_user(user_id)
        logging.getLogger("bot.handlers").info("user %s: done (token %s)", user_id, TOKEN)

    async def run() -> None:
        await asyncio.gather(handle(1001), handle(1002))
        logging.getLogger("bot").warning("no user here")

    try:
        asyncio.run(run())
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("bot").exception("round failed")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    lines = [line for line in lines if line["logger"].startswith("bot")]
    assert [line["level"] for line in lines] == ["INFO", "INFO", "WARNING", "ERROR"]
    first, second, plain, failed = lines
    assert first["logger"] == "bot.handlers"
    assert first["message"] == "user 1001: done (token [redacted])"
    assert first["replica"] == "host:123"
    assert first["time"].endswith("+00:00")
    assert len({first["user"], second["user"]}) == 2
    assert first["user"] != "1001"
    assert "user" not in plain
    assert failed["exception"].splitlines()[-1] == "ValueError: broken"


def test_the_user_hash_is_keyed() -> None:
    one = logs.JsonFormatter(b"a").user_hash(1001)
    assert one == logs.JsonFormatter(b"a").user_hash(1001)
    assert one != logs.JsonFormatter(b"b").user_hash(1001)
