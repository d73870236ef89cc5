"""Logging set-up: text or one JSON object per line, and no secret in either.

Libraries log what they see: PTB's DEBUG output includes whole updates (a user's message
pasting their API key) and every Bot API call's parameters (``setWebhook``'s
``secret_token``), and an error's text may hold a URL (the bot token is part of
Telegram's). A filter on the root handler rewrites each record's final text (message and
traceback) before any formatter sees it: the configured secrets in every spelling they
take in a URL, anything shaped like an API key, a bot token, a URL's password, a secret
token parameter or a Mini App's ``initData``.

In JSON (``LOG_FORMAT=json``) each line carries the replica and, while an update or a
Mini App request of a user is handled, a keyed hash of the user's id: lines of one user
can be followed across replicas without the log holding who they are.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import re
import sys
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

from bot.config import Settings

REDACTED = "[redacted]"
REDACTED_KEY = "jm_[redacted]"
# A value shorter than this is only redacted where its place gives it away (a URL's
# password, a secret_token parameter): replacing every "a" in a log helps no one.
_MIN_EXACT = 6
# A database password is often a word ("postgres"): shorter than this, it is redacted in
# URLs only, by the pattern.
_MIN_PASSWORD = 12

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"jm_[A-Za-z0-9_-]{4,}"), REDACTED_KEY),
    # Bot tokens: digits, a colon, 35 letters (URL-encoded colon too).
    (re.compile(r"\b\d{5,}(?::|%3A)[A-Za-z0-9_-]{30,}"), REDACTED),
    # user:password@ in any URL.
    (re.compile(r"(://[^/\s:@]*):[^/\s@]+@"), rf"\1:{REDACTED}@"),
    # secret_token='…' (PTB's call parameters), X-Telegram-Bot-Api-Secret-Token: … (headers).
    (re.compile(r"""(secret[_-]token['"]?\s*[:=]\s*['"]?)[^'"\s,}&]+""", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(initData=)[^&\s'\"]+"), rf"\1{REDACTED}"),
)

_user: contextvars.ContextVar[int | None] = contextvars.ContextVar("log_user", default=None)
_replica: str | None = None


def bind_user(user_id: int | None) -> None:
    """Tag this task's log lines (and those of tasks it starts) with ``user_id``, hashed."""
    _user.set(user_id)


def set_replica(replica_id: str) -> None:
    """Tag every later log line with this process's replica id."""
    global _replica
    _replica = replica_id


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """Every secret value the settings hold, for :func:`configure`."""
    found = [settings.telegram_token, settings.webhook_secret, settings.secret_key]
    if settings.database_url:
        found.append(settings.database_url)
        password = unquote(urlsplit(settings.database_url).password or "")
        if len(password) >= _MIN_PASSWORD:
            found.append(password)
    return tuple(s for s in found if s)


class Redactor:
    """Replaces secrets in a text: the given values, and whatever looks like one."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            values.update((secret, quote(secret, safe=""), quote(secret)))
            _, colon, tail = secret.partition(":")  # a bot token's secret half
            if colon and "/" not in secret:
                values.add(tail)
        exact = sorted((v for v in values if len(v) >= _MIN_EXACT), key=len, reverse=True)
        self._exact = re.compile("|".join(map(re.escape, exact))) if exact else None

    def __call__(self, text: str) -> str:
        if self._exact is not None:
            text = self._exact.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites records in place: message, traceback and stack are redacted."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, replica, user (hashed).

    Args:
        user_key: Key of the user id's hash (the same on every replica).
    """

    def __init__(self, user_key: bytes) -> None:
        super().__init__()
        self._user_key = user_key

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "replica": _replica,
        }
        user = _user.get()
        if user is not None:
            line["user"] = self.user_hash(user)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)

    def user_hash(self, user_id: int) -> str:
        """16 hex digits, the same for a user on every replica, not reversible without the
        key (a plain hash of a Telegram id is: there are only billions)."""
        return hmac.new(self._user_key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


def configure(
    level: str, secrets: tuple[str, ...] = (), *, log_format: str = "text", user_key: bytes = b""
) -> None:
    """Log to stderr at ``level`` in ``log_format`` (``text`` or ``json``), redacted; quiet
    the chattiest libraries."""
    handler = redacted_handler(
        logging.StreamHandler(sys.stderr), secrets, log_format=log_format, user_key=user_key
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    set_library_levels(level)


def redacted_handler(
    handler: logging.Handler,
    secrets: tuple[str, ...] = (),
    *,
    log_format: str = "text",
    user_key: bytes = b"",
) -> logging.Handler:
    """``handler`` with the bot's format and the redacting filter."""
    if log_format == "json":
        handler.setFormatter(JsonFormatter(b"jiema-bot log user:" + user_key))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    return handler


def set_library_levels(level: str) -> None:
    """Quiet the chattiest libraries for a bot logging at ``level``."""
    numeric = logging.getLevelName(level)
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, numeric))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # PTB logs a traceback for every non-JSON answer (a 502 page from Telegram's front end);
    # the caller gets the error anyway, so one line is enough.
    logging.getLogger("telegram.request.BaseRequest").addFilter(_without_traceback)


def _without_traceback(record: logging.LogRecord) -> bool:
    record.exc_info = None
    record.exc_text = None
    return True
