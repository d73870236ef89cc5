"""What every screen family shares: the :class:`Screen`, escaping, and the generic texts.

Escaping (:func:`esc`), country labels, order statuses and time left, the explanation of an
API failure, and the texts any handler may fall back to (sorry, unavailable, private only).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardMarkup

from bot.i18n import Translator, flag
from bot.order_status import OrderStatus
from bot.services import errors


@dataclass(frozen=True, slots=True)
class Screen:
    """A message: HTML text and an optional inline keyboard."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def esc(text: object) -> str:
    """Escape untrusted text for Telegram's HTML parse mode."""
    return html.escape(str(text), quote=False)


def country_label(t: Translator, slug: str, fallback: str) -> str:
    """ "🇲🇾 Malaysia" in the user's language."""
    return f"{flag(slug)} {t.country(slug, fallback)}".strip()


def status_text(t: Translator, status: str) -> str:
    """A status in words; unknown statuses are shown as the API wrote them."""
    names: dict[str, str] = {
        OrderStatus.WAITING: t._("⏳ Waiting for SMS"),
        OrderStatus.RECEIVED: t._("✅ SMS received"),
        OrderStatus.COMPLETED: t._("✔️ Completed"),
        OrderStatus.FAILED: t._("❌ Failed"),
        OrderStatus.CANCELLED: t._("↩️ Cancelled"),
    }
    return names.get(status, esc(status))


def countdown(expires_at: datetime | None, now: datetime) -> int | None:
    """The step of the countdown :func:`time_left` shows: its minutes, 0 under a minute,
    -1 once expired, None without an expiry. The text changes exactly when this does, so
    the poller compares this number every round instead of formatting the text."""
    if expires_at is None:
        return None
    seconds = (expires_at - now).total_seconds()
    if seconds <= 0:
        return -1
    if seconds < 60:
        return 0
    minutes = math.ceil(seconds / 60)
    return 5 * math.ceil(minutes / 5) if minutes > 10 else minutes


def time_left(t: Translator, expires_at: datetime | None, now: datetime) -> str | None:
    """ "20 minutes left": whole minutes, in 5-minute steps above ten.

    The card shows this and is edited whenever it changes, so the step sets the countdown's
    edit cadence: at most one edit per card every five minutes until the last ten, which
    keeps a thousand live cards far below Telegram's global message rate.
    """
    minutes = countdown(expires_at, now)
    if minutes is None:
        return None
    if minutes < 0:
        return t._("expired")
    if minutes == 0:
        return t._("less than a minute left")
    # TRANSLATORS: after the order's status; {duration} is already localized, e.g. "20 minutes".
    return t._("{duration} left").format(duration=t.duration(60 * minutes))


def too_many_requests(t: Translator, seconds: int) -> str:
    """Asked too often (of jiema.my, or of the Mini App): when to try again."""
    return t.ngettext(
        "Too many requests. Please wait {seconds} second and try again.",
        "Too many requests. Please wait {seconds} seconds and try again.",
        seconds,
    ).format(seconds=seconds)


def api_error(t: Translator, exc: errors.JiemaError) -> str:
    """A person-friendly explanation with a next step, for every API failure."""
    match exc:
        case errors.AuthError():
            return t._("jiema.my refused your API key (revoked?). Link a new one with /link.")
        case errors.ForbiddenError():
            return t._(
                "Your jiema.my account has no access right now. Please contact jiema.my support."
            )
        case errors.InsufficientBalanceError():
            return t._("Not enough balance for this number. Top up on jiema.my, then try again.")
        case errors.NoNumbersError():
            return t._("No numbers left for this country right now. Pick another country.")
        case errors.BadServiceError():
            return t._("This service isn't available any more. Pick another one with /buy.")
        case errors.BadCountryError():
            return t._("This country isn't available for the service. Pick another country.")
        case errors.CodeReceivedError():
            return t._("An SMS already arrived on this number, so it can't be cancelled.")
        case errors.AlreadyChangedError():
            return t._("The order changed in the meantime. Tap Refresh to see its state.")
        case errors.NotFoundError():
            return t._("jiema.my doesn't know this order any more.")
        case errors.RateLimitedError() | errors.BusyError():
            return too_many_requests(t, int(exc.retry_after or 60))
        case errors.ServerError() | errors.TransportError():
            return t._("jiema.my isn't answering right now. Please try again in a minute.")
        case errors.MalformedResponseError():
            return t._("jiema.my sent an answer I couldn't read. Please try again in a minute.")
        case errors.ApiError():
            return t._("jiema.my says: {message}").format(message=esc(exc.message or exc.code))
    return t._("jiema.my isn't answering right now. Please try again in a minute.")


def sorry(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "Sorry, something went wrong on my side. Your orders and codes are safe; "
                "please try again, or /help."
            )
        )
    )


def unavailable(t: Translator) -> Screen:
    """The bot's database is out of reach (disk full, connection lost): nothing was done."""
    return Screen(
        t.align(
            t._(
                "I'm temporarily unavailable, so I couldn't do that. Please try again in a minute: "
                "your orders and codes are safe."
            )
        )
    )


def unknown_input(t: Translator) -> Screen:
    return Screen(
        t.align(t._("I didn't get that. /buy to get a number, /help for everything I can do."))
    )


def cancelled_flow(t: Translator) -> Screen:
    return Screen(t.align(t._("Cancelled. /buy when you're ready.")))


def private_only(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "I only work in a private chat, to keep your key and codes to you. "
                "Open a chat with me and send /start."
            )
        )
    )


def key_in_group(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "Never post an API key in a group: everyone here can use it. "
                "Revoke that key now on jiema.my → Account → API keys."
            )
        )
    )
