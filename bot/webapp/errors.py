"""The Mini App's answers: ``{"ok": true, "data": …}`` on success, and the error mapping.

Errors are ``{"ok": false, "code", "message"}`` like jiema's, with the chat's message in the
user's language and a meaningful HTTP status; a use case's exception or refused outcome is
mapped here, once, for every route and the live stream.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from bot import views
from bot.i18n import Translator, get_translator, negotiate
from bot.services import errors
from bot.services.errors import KeyUnreadableError, NotLinkedError
from bot.services.miniapp import NotYoursError, OfferGoneError
from bot.webapp.texts import PAGE_TEXTS, plain

NO_STORE: Final = {"Cache-Control": "no-store"}


class Refusal(Exception):
    """An error answer: HTTP status, code and the message shown to the user."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def ok(data: object, status: int = 200) -> web.Response:
    return web.json_response({"ok": True, "data": data}, status=status, headers=NO_STORE)


def error(refusal: Refusal) -> web.Response:
    body = {"ok": False, "code": refusal.code, "message": refusal.message, **refusal.extra}
    headers = dict(NO_STORE)
    if refusal.status in (429, 503) and "retry_after" in refusal.extra:
        headers["Retry-After"] = str(refusal.extra["retry_after"])
    return web.json_response(body, status=refusal.status, headers=headers)


def bad_request(t: Translator) -> Refusal:
    return Refusal(400, "BAD_REQUEST", plain(views.sorry(t).text))


def reopen(request: web.Request) -> web.Response:
    """The answer to an ``initData`` that does not validate: reopen the page from the chat."""
    t = get_translator(negotiate(_accept_language(request)))
    return error(Refusal(401, "AUTH", t._(PAGE_TEXTS["reopen"])))


def _accept_language(request: web.Request) -> str | None:
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return first or None


def _api_status(exc: errors.JiemaError) -> tuple[int, str]:
    match exc:
        case errors.InsufficientBalanceError():
            return 402, "INSUFFICIENT"
        case errors.RateLimitedError():
            return 429, "RATE_LIMITED"
        case errors.BusyError():
            return 429, "BUSY"
        case errors.AuthError():
            return 403, "KEY_REFUSED"
        case errors.ForbiddenError():
            return 403, "FORBIDDEN"
        case errors.NotFoundError():
            return 404, "NOT_FOUND"
        case errors.ServerError() | errors.TransportError():
            return 502, "UPSTREAM"
        case errors.MalformedResponseError():
            return 502, "UPSTREAM"
        case errors.ApiError():
            return 409, exc.code
    return 502, "UPSTREAM"


def refusal_for(exc: Exception, t: Translator) -> Refusal | None:
    """The error answer for what a use case raised (None: a bug, answered as 500)."""
    match exc:
        case Refusal():
            return exc
        case KeyUnreadableError():
            return Refusal(503, "KEY_UNREADABLE", plain(views.key_unreadable(t).text))
        case NotLinkedError():
            return Refusal(403, "NOT_LINKED", plain(views.not_linked(t).text))
        case NotYoursError():
            return Refusal(404, "NOT_FOUND", views.not_your_order(t))
        case OfferGoneError():
            return Refusal(409, "OFFER_GONE", views.offer_gone(t))
        case errors.JiemaError():
            status, code = _api_status(exc)
            extra: dict[str, Any] = {}
            if isinstance(exc, errors.RateLimitedError | errors.BusyError):
                extra["retry_after"] = int(exc.retry_after or 60)
            return Refusal(status, code, plain(views.api_error(t, exc)), **extra)
    return None
