"""Logging set-up that keeps secrets out of every log line.

Libraries log what they see: PTB's DEBUG output includes whole updates (a user's message
pasting their API key), httpx logs request URLs (the bot token is part of Telegram's). A
filter on the root handler rewrites each record's final text, replacing anything shaped
like an API key, and the bot token, before any handler writes it.
"""

from __future__ import annotations

import logging
import re
import sys

_API_KEY = re.compile(r"jm_[A-Za-z0-9_-]{4,}")
REDACTED_KEY = "jm_[redacted]"


class RedactingFilter(logging.Filter):
    """Rewrites records in place: API keys and the given secrets become placeholders."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        text = _API_KEY.sub(REDACTED_KEY, text)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True


def configure(level: str, secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr at ``level``, redacted; quiet the chattiest libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # One line per HTTP request or poller tick otherwise (measured: ~3.5 % of the CPU).
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # PTB logs a traceback for every non-JSON answer (a 502 page from Telegram's front end);
    # the caller gets the error anyway, so one line is enough.
    logging.getLogger("telegram.request.BaseRequest").addFilter(_without_traceback)


def _without_traceback(record: logging.LogRecord) -> bool:
    record.exc_info = None
    record.exc_text = None
    return True
