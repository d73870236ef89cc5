"""What became of one Telegram call: sent, refused, told to wait, or unknown.

PTB turns every failure into a :class:`~telegram.error.TelegramError`, but for a message the
question that matters is *may the user have it?*:

* **Refused** (definitely not delivered): a 4xx answer other than 429 (``BadRequest``,
  ``Forbidden`` when the user blocked the bot or deleted their account, ``InvalidToken``,
  ``Conflict``), or a request that never left the machine: the connection could not be made
  (``httpx.ConnectError``, ``ConnectTimeout``) or no pooled connection was free
  (``PoolTimeout``). Retrying it cannot cause a duplicate.
* **RetryAfter**: flood control (429) for that chat; nothing was delivered.
* **Unknown**: the request went out and the answer did not come back intact (read or write
  timeout, a 5xx from Telegram's front end, a connection lost mid-way, a garbled body). It
  may have been delivered; a retry can make a duplicate.

PTB raises a plain ``NetworkError`` for 5xx (the status is only in its message) and wraps
httpx's exception as ``__cause__``; :func:`classify` relies on that chain, which is how
``telegram.request.HTTPXRequest.do_request`` raises.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

__all__ = [
    "Outcome",
    "Refused",
    "RetryLater",
    "Sent",
    "Unknown",
    "attempt",
    "classify",
    "describe",
    "retry_seconds",
]

T = TypeVar("T")

# Exceptions httpx raises before a single byte of the request was written.
_NEVER_SENT: tuple[type[BaseException], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


@dataclass(frozen=True, slots=True)
class Sent(Generic[T]):
    """Telegram accepted the call; ``value`` is what the PTB method returned."""

    value: T


@dataclass(frozen=True, slots=True)
class Refused:
    """Definitely not delivered. ``blocked``: the user blocked the bot (or is gone)."""

    error: TelegramError
    blocked: bool = False

    @property
    def description(self) -> str:
        return self.error.message

    @property
    def answered(self) -> bool:
        """Telegram itself refused (a 4xx answer), as opposed to a connection never made."""
        return isinstance(self.error, BadRequest) or not isinstance(self.error, NetworkError)


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Flood control: not delivered; this chat may be sent to again after ``delay``."""

    delay: timedelta


@dataclass(frozen=True, slots=True)
class Unknown:
    """The request may or may not have been delivered."""

    error: TelegramError


Outcome = Sent[T] | Refused | RetryLater | Unknown


def _never_sent(error: BaseException) -> bool:
    cause: BaseException | None = error
    seen = 0
    while cause is not None and seen < 5:  # a short chain; no cycles in practice
        if isinstance(cause, _NEVER_SENT):
            return True
        cause = cause.__cause__
        seen += 1
    return False


def retry_seconds(error: RetryAfter) -> float:
    """``retry_after`` in seconds: PTB's public attribute is an int or a timedelta depending
    on ``PTB_TIMEDELTA`` (and warns about the int); read it once, quietly, here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        raw = error.retry_after
    return raw.total_seconds() if isinstance(raw, timedelta) else float(raw)


def classify(error: TelegramError) -> Refused | RetryLater | Unknown:
    """Map a PTB exception onto what it means for delivery (see the module docstring)."""
    if isinstance(error, RetryAfter):
        return RetryLater(timedelta(seconds=retry_seconds(error)))
    if isinstance(error, Forbidden):
        return Refused(error, blocked=True)
    if isinstance(error, BadRequest | InvalidToken | Conflict | ChatMigrated):
        return Refused(error)
    if isinstance(error, NetworkError) and _never_sent(error):
        return Refused(error)
    return Unknown(error)


async def attempt(call: Awaitable[T]) -> Outcome[T]:
    """Await one PTB call and say what became of it; never raises ``TelegramError``."""
    try:
        return Sent(await call)
    except TelegramError as exc:
        return classify(exc)


def describe(error: TelegramError) -> str:
    """A short one-line cause for logs: the httpx error when there is one, else PTB's
    message without the body of a non-JSON answer (a 502 page)."""
    cause = error.__cause__
    if isinstance(cause, httpx.HTTPError):
        return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
    return error.message.split(". Parsing the server response", 1)[0]
