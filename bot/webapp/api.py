"""The Mini App's HTTP side: JSON API under ``/app/api/``, the live order stream, the page.

Handlers are thin: authenticate (``initData``), parse, call one :class:`MiniApp` method,
render JSON. Success is ``{"ok": true, "data": …}``; errors are ``{"ok": false, "code",
"message"}`` like jiema's, with the chat's message in the user's language and a meaningful
HTTP status. Nothing of the user's key, and nothing of another user, is ever rendered.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from babel import Locale

from bot import logs, views
from bot.api import Order, Service
from bot.api import errors as api_errors
from bot.i18n import Translator, flag, get_translator, negotiate
from bot.services.accounts import NotLinkedError
from bot.services.alerts import TooManyAlerts, Watching
from bot.services.catalog import Offer
from bot.services.favourites import Added, FavouriteOffer, Full, Removed, ToggleOutcome
from bot.services.purchases import AlreadyUsed, Unconfirmed
from bot.sms import extract_code
from bot.store import Alert, StoredOrder
from bot.webapp.auth import DEFAULT_MAX_AGE, InitDataError, InitDataValidator, WebAppUser
from bot.webapp.service import MiniApp, NotYoursError, OfferGoneError, OrderState, Services
from bot.webapp.texts import PAGE_TEXTS, page_texts, plain

log = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
_MAX_JSON_BODY = 4096


@dataclass(frozen=True, slots=True)
class WebAppConfig:
    """Knobs of the page's server side (defaults are the production ones).

    Attributes:
        prefix: URL path of the page; the API is ``<prefix>/api/``.
        max_age: Seconds an ``initData`` is accepted after its ``auth_date``.
        watch_interval: Seconds between two reads of the database for the live stream.
        heartbeat: Seconds of silence after which the stream sends a comment.
        stream_max: Seconds one stream stays open (the page's EventSource reconnects).
        history_page: Orders per page of the history.
    """

    prefix: str = "/app"
    max_age: float = DEFAULT_MAX_AGE
    watch_interval: float = 0.4
    heartbeat: float = 15.0
    stream_max: float = 600.0
    history_page: int = 10


class _Refusal(Exception):
    """An error answer: HTTP status, code and the message shown to the user."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


@dataclass(frozen=True, slots=True)
class _Call:
    """One authenticated request."""

    request: web.Request
    user: WebAppUser
    t: Translator


Endpoint = Callable[["WebApp", _Call], Awaitable[web.StreamResponse]]


def ok(data: object, status: int = 200) -> web.Response:
    return web.json_response({"ok": True, "data": data}, status=status, headers=_NO_STORE)


def _error(refusal: _Refusal) -> web.Response:
    body = {"ok": False, "code": refusal.code, "message": refusal.message, **refusal.extra}
    headers = dict(_NO_STORE)
    if refusal.status == 429 and "retry_after" in refusal.extra:
        headers["Retry-After"] = str(refusal.extra["retry_after"])
    return web.json_response(body, status=refusal.status, headers=headers)


_NO_STORE: Final = {"Cache-Control": "no-store"}


def _api_status(exc: api_errors.JiemaError) -> tuple[int, str]:
    match exc:
        case api_errors.InsufficientBalanceError():
            return 402, "INSUFFICIENT"
        case api_errors.RateLimitedError():
            return 429, "RATE_LIMITED"
        case api_errors.AuthError():
            return 403, "KEY_REFUSED"
        case api_errors.ForbiddenError():
            return 403, "FORBIDDEN"
        case api_errors.NotFoundError():
            return 404, "NOT_FOUND"
        case api_errors.ServerError() | api_errors.TransportError():
            return 502, "UPSTREAM"
        case api_errors.MalformedResponseError():
            return 502, "UPSTREAM"
        case api_errors.ApiError():
            return 409, exc.code
    return 502, "UPSTREAM"


def refusal_for(exc: Exception, t: Translator) -> _Refusal | None:
    """The error answer for what a use case raised (None: a bug, answered as 500)."""
    match exc:
        case _Refusal():
            return exc
        case NotLinkedError():
            return _Refusal(403, "NOT_LINKED", plain(views.not_linked(t).text))
        case NotYoursError():
            return _Refusal(404, "NOT_FOUND", views.not_your_order(t))
        case OfferGoneError():
            return _Refusal(409, "OFFER_GONE", views.offer_gone(t))
        case api_errors.JiemaError():
            status, code = _api_status(exc)
            extra: dict[str, Any] = {}
            if isinstance(exc, api_errors.RateLimitedError):
                extra["retry_after"] = int(exc.retry_after or 60)
            return _Refusal(status, code, plain(views.api_error(t, exc)), **extra)
    return None


def endpoint(handler: Endpoint) -> Callable[[WebApp, web.Request], Awaitable[web.StreamResponse]]:
    """Authenticate, run the handler, turn what it raises into the matching error answer."""

    @functools.wraps(handler)
    async def handle(self: WebApp, request: web.Request) -> web.StreamResponse:
        try:
            user = self.validator.validate(_init_data(request))
        except InitDataError as exc:
            log.info("webapp: initData refused (%s)", exc.reason.value)
            t = get_translator(negotiate(_accept_language(request)))
            return _error(_Refusal(401, "AUTH", t._(PAGE_TEXTS["reopen"])))
        logs.bind_user(user.id)
        t = get_translator(await self.app.language(user))
        try:
            return await handler(self, _Call(request, user, t))
        except Exception as exc:
            refusal = refusal_for(exc, t)
            if refusal is None:
                log.exception("webapp: %s failed", request.path)
                refusal = _Refusal(500, "INTERNAL", plain(views.sorry(t).text))
            return _error(refusal)

    return handle


def _init_data(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "tma" and value:
        return value
    return None


def _accept_language(request: web.Request) -> str | None:
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return first or None


async def _json_body(request: web.Request, t: Translator) -> dict[str, Any]:
    bad = _Refusal(400, "BAD_REQUEST", plain(views.sorry(t).text))
    if request.content_length is not None and request.content_length > _MAX_JSON_BODY:
        raise bad
    try:
        body = json.loads(await request.content.read(_MAX_JSON_BODY + 1) or b"null")
    except ValueError:
        raise bad from None
    if not isinstance(body, dict):
        raise bad
    return body


def _cents_from_dollars(value: Decimal | None) -> int | None:
    """``minCostUsd`` (dollars, exact as Decimal) in whole cents, rounded half up."""
    if value is None:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@functools.lru_cache(maxsize=8192)
def _money(language: str, cents: int) -> str:
    """Formatted money, memoised: 700 services priced per catalogue read would cost ~20 ms."""
    return get_translator(language).money(cents)


def _country(t: Translator, slug: str, fallback: str) -> dict[str, str]:
    return {"slug": slug, "flag": flag(slug), "name": t.country(slug, fallback)}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def direction(language: str) -> str:
    """ "rtl" for right-to-left languages (Arabic, Persian, …), else "ltr"."""
    return "rtl" if Locale.parse(language).character_order == "right-to-left" else "ltr"


def _service_json(t: Translator, service: Service) -> dict[str, Any]:
    cents = _cents_from_dollars(service.min_cost_usd)
    return {
        "code": service.code,
        "name": service.name,
        "price_cents": cents,
        "price": None if cents is None else _money(t.language, cents),
        "stock": service.total_count,
    }


def _offer_json(t: Translator, offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.country_id,
        **_country(t, offer.slug, offer.name),
        "price_cents": offer.price_cents,
        "price": _money(t.language, offer.price_cents),
        "count": offer.count,
        "sold_out": offer.count <= 0,
    }


def order_json(t: Translator, state: OrderState) -> dict[str, Any]:
    """The order screen's data: everything the page shows, nothing it must not."""
    order: StoredOrder = state.order
    codes = [
        {
            "position": d.position,
            "code": extract_code(d.body),
            "body": d.body,
            "received_at": _iso(d.received_at),
        }
        for d in state.deliveries
    ]
    return {
        "id": order.id,
        "phone": order.phone,
        "service": order.service,
        "service_name": order.service_name,
        "country_id": order.country_id,
        "country": _country(t, order.country_slug, order.country_slug.upper() or order.country_id),
        "price_cents": order.charged_cents,
        "price": _money(t.language, order.charged_cents),
        "status": order.status,
        "status_text": plain(views.status_text(t, order.status)),
        "expires_at": _iso(order.expires_at),
        "final": order.is_final,
        "can_cancel": order.status == "WAITING" and order.sms_seen == 0,
        "can_next_sms": order.status == "RECEIVED",
        "refunded": _money(t.language, order.charged_cents)
        if order.status == "CANCELLED"
        else None,
        "codes": codes,
    }


def _history_json(t: Translator, order: Order, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": order.id,
        "service": order.service,
        "service_name": names.get(order.service or "", order.service or "?"),
        "phone": order.phone,
        "status": order.status,
        "status_text": plain(views.status_text(t, order.status)),
        "price": None if order.charged_cents is None else _money(t.language, order.charged_cents),
        "created_at": _iso(order.created_at),
        "when": t.datetime(order.created_at, style="short") if order.created_at else None,
    }


def _favourite_json(t: Translator, item: FavouriteOffer) -> dict[str, Any]:
    """A favourite shaped like a country offer (``price`` None: the API no longer prices it)."""
    fav, offer = item.favourite, item.offer
    return {
        "service": fav.service,
        "service_name": fav.service_name,
        "id": int(fav.country_id),
        **_country(t, fav.country_slug, fav.country_slug.upper()),
        "price": None if offer is None else _money(t.language, offer.price_cents),
        "count": 0 if offer is None else offer.count,
        "sold_out": not item.in_stock,
    }


def _alert_json(t: Translator, alert: Alert, now: datetime) -> dict[str, Any]:
    """An alert as ``/alerts`` labels it: "WhatsApp · 🇲🇾 Malaysia · 23 hours left"."""
    duration = t.duration(max(60.0, (alert.expires_at - now).total_seconds()))
    left = t._("{duration} left").format(duration=duration)
    country = views.country_label(t, alert.country_slug, alert.country_slug.upper())
    return {
        "id": alert.id,
        "service": alert.service,
        "service_name": alert.service_name,
        "country": _country(t, alert.country_slug, alert.country_slug.upper()),
        "expires_at": _iso(alert.expires_at),
        "label": f"{alert.service_name} · {country} · {left}",
    }


def _pair(body: dict[str, Any], t: Translator) -> tuple[str, int]:
    """``{"service": "wa", "country": 7}`` of a request body."""
    service, country = body.get("service"), body.get("country")
    if (
        not isinstance(service, str)
        or not 0 < len(service) <= 32
        or not isinstance(country, int)
        or isinstance(country, bool)
    ):
        raise _Refusal(400, "BAD_REQUEST", plain(views.sorry(t).text))
    return service, country


def _order_id(call: _Call) -> str:
    order_id = call.request.match_info["order_id"]
    if not (0 < len(order_id) <= 64 and order_id.isascii()):
        raise NotYoursError
    return order_id


class WebApp:
    """The routes of one process; built by :func:`setup_webapp`."""

    def __init__(
        self,
        app: MiniApp,
        validator: InitDataValidator,
        config: WebAppConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.validator = validator
        self.config = config
        self._clock = clock
        self._streams: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def close_streams(self, _app: web.Application | None = None) -> None:
        """End every open live stream (at shutdown: they would hold it up to their max)."""
        self._closing = True
        for task in list(self._streams):
            task.cancel()

    @endpoint
    async def session(self, call: _Call) -> web.StreamResponse:
        profile = await self.app.profile(call.user)
        t = get_translator(profile.language)
        account = profile.account
        return ok(
            {
                "user": {"id": call.user.id, "first_name": call.user.first_name},
                "language": profile.language,
                "direction": direction(profile.language),
                "texts": page_texts(t),
                "linked": profile.linked,
                "balance": None
                if account is None
                else {"cents": account.balance_cents, "text": t.money(account.balance_cents)},
            }
        )

    @endpoint
    async def services(self, call: _Call) -> web.StreamResponse:
        items = await self.app.catalogue(call.user.id)
        return ok([_service_json(call.t, s) for s in items])

    @endpoint
    async def countries(self, call: _Call) -> web.StreamResponse:
        code = call.request.match_info["code"]
        if not (0 < len(code) <= 32 and code.isascii()):
            raise OfferGoneError
        service, offers = await self.app.countries(call.user.id, code)
        return ok(
            {
                "service": {"code": service.code, "name": service.name},
                "countries": [_offer_json(call.t, o) for o in offers],
            }
        )

    @endpoint
    async def quote(self, call: _Call) -> web.StreamResponse:
        body = await _json_body(call.request, call.t)
        service, country = body.get("service"), body.get("country")
        if (
            not isinstance(service, str)
            or not isinstance(country, int)
            or isinstance(country, bool)
        ):
            raise _Refusal(400, "BAD_REQUEST", plain(views.sorry(call.t).text))
        quote = await self.app.quote(call.user.id, service, country)
        t = call.t
        price, balance = quote.offer.price_cents, quote.account.balance_cents
        affordable = balance >= price
        return ok(
            {
                "token": quote.purchase.token if affordable else None,
                "service": {"code": quote.service.code, "name": quote.service.name},
                "country": {
                    "id": quote.offer.country_id,
                    **_country(t, quote.offer.slug, quote.offer.name),
                },
                "price_cents": price,
                "price": t.money(price),
                "balance_cents": balance,
                "balance": t.money(balance),
                "affordable": affordable,
            }
        )

    @endpoint
    async def buy(self, call: _Call) -> web.StreamResponse:
        body = await _json_body(call.request, call.t)
        token = body.get("token")
        if not isinstance(token, str) or not 0 < len(token) <= 64:
            raise _Refusal(400, "BAD_REQUEST", plain(views.sorry(call.t).text))
        result = await self.app.buy(call.user.id, token)
        t = call.t
        if isinstance(result, AlreadyUsed):
            order = result.order.id if result.order else None
            raise _Refusal(409, "ALREADY_USED", views.purchase_used(t), order=order)
        if isinstance(result, Unconfirmed):
            raise _Refusal(202, "UNCONFIRMED", plain(views.purchase_unconfirmed(t).text))
        return ok(order_json(t, result), status=201)

    @endpoint
    async def history(self, call: _Call) -> web.StreamResponse:
        cursor = call.request.query.get("cursor") or None
        if cursor is not None and len(cursor) > 256:
            raise _Refusal(400, "BAD_REQUEST", plain(views.sorry(call.t).text))
        history = await self.app.history(call.user.id, cursor, self.config.history_page)
        return ok(
            {
                "items": [_history_json(call.t, o, history.names) for o in history.orders],
                "next_cursor": history.next_cursor,
            }
        )

    @endpoint
    async def order(self, call: _Call) -> web.StreamResponse:
        state = await self.app.order(call.user.id, _order_id(call))
        return ok(order_json(call.t, state))

    @endpoint
    async def cancel(self, call: _Call) -> web.StreamResponse:
        state = await self.app.cancel(call.user.id, _order_id(call))
        return ok({**order_json(call.t, state), "note": views.cancelled(call.t, state.order)})

    @endpoint
    async def next_sms(self, call: _Call) -> web.StreamResponse:
        state = await self.app.next_sms(call.user.id, _order_id(call))
        return ok({**order_json(call.t, state), "note": views.waiting_again(call.t)})

    @endpoint
    async def favourites(self, call: _Call) -> web.StreamResponse:
        items = await self.app.favourites(call.user.id)
        return ok([_favourite_json(call.t, i) for i in items if i.favourite.country_id.isdigit()])

    @endpoint
    async def toggle_favourite(self, call: _Call) -> web.StreamResponse:
        service, country = _pair(await _json_body(call.request, call.t), call.t)
        return self._toggled(
            call.t, await self.app.toggle_favourite(call.user.id, service, country)
        )

    @endpoint
    async def toggle_order_favourite(self, call: _Call) -> web.StreamResponse:
        outcome = await self.app.toggle_order_favourite(call.user.id, _order_id(call))
        return self._toggled(call.t, outcome)

    @staticmethod
    def _toggled(t: Translator, outcome: ToggleOutcome) -> web.Response:
        """The ★ answer: the new state and the chat's words for it, or the chat's refusal."""
        note = views.favourite_toggled(t, outcome)
        if isinstance(outcome, Added | Removed):
            return ok({"on": isinstance(outcome, Added), "note": note})
        raise _Refusal(409, "FAVOURITES_FULL" if isinstance(outcome, Full) else "OFFER_GONE", note)

    @endpoint
    async def alternatives(self, call: _Call) -> web.StreamResponse:
        code, country = call.request.match_info["code"], call.request.match_info["country"]
        if not (0 < len(code) <= 32 and code.isascii() and country.isdigit() and len(country) < 10):
            raise OfferGoneError
        alts = await self.app.alternatives(call.user.id, code, int(country))
        t = call.t
        return ok(
            {
                "text": plain(views.alternatives(t, alts).text),
                "service": {"code": alts.service.code, "name": alts.service.name},
                "country": {
                    "id": alts.place.country_id,
                    **_country(t, alts.place.slug, alts.place.name),
                },
                "offers": [_offer_json(t, o) for o in alts.offers],
                "watching": alts.watching,
            }
        )

    @endpoint
    async def notify_me(self, call: _Call) -> web.StreamResponse:
        service, country = _pair(await _json_body(call.request, call.t), call.t)
        outcome = await self.app.notify_me(call.user.id, service, country)
        t = call.t
        if isinstance(outcome, TooManyAlerts):
            raise _Refusal(409, "TOO_MANY_ALERTS", views.too_many_alerts(t, outcome.limit))
        if not isinstance(outcome, Watching):
            raise OfferGoneError
        alert = outcome.alert
        hours = (alert.expires_at - alert.created_at).total_seconds() / 3600
        return ok(
            {
                "alert": _alert_json(t, alert, self._now()),
                "note": views.watching(t, outcome, hours),
            },
            status=201 if outcome.new else 200,
        )

    @endpoint
    async def alerts(self, call: _Call) -> web.StreamResponse:
        waiting = await self.app.alerts(call.user.id)
        now = self._now()
        return ok([_alert_json(call.t, a, now) for a in waiting])

    @endpoint
    async def cancel_alert(self, call: _Call) -> web.StreamResponse:
        alert_id = call.request.match_info["alert_id"]
        if not (0 < len(alert_id) <= 64 and alert_id.isascii()):
            raise NotYoursError
        await self.app.cancel_alert(call.user.id, alert_id)
        return ok({"note": views.alert_cancelled(call.t)})

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the order view each time it changes (EventSource sends no
        headers, so ``initData`` comes as a query parameter, validated the same way).

        The whole handler is registered as a stream from its first line, so a shutdown
        also ends one that is still starting (it would otherwise hold the shutdown up).
        """
        task = asyncio.current_task()
        if self._closing or task is None:
            raise web.HTTPServiceUnavailable
        self._streams.add(task)
        try:
            return await self._stream(request)
        finally:
            self._streams.discard(task)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        try:
            user = self.validator.validate(request.query.get("initData"))
        except InitDataError as exc:
            log.info("webapp: initData refused on a stream (%s)", exc.reason.value)
            t = get_translator(negotiate(_accept_language(request)))
            return _error(_Refusal(401, "AUTH", t._(PAGE_TEXTS["reopen"])))
        t = get_translator(await self.app.language(user))
        try:
            changes = await self.app.watch(
                user.id,
                request.match_info["order_id"],
                interval=self.config.watch_interval,
                heartbeat=self.config.heartbeat,
                max_duration=self.config.stream_max,
                gone=lambda: request.transport is None or request.transport.is_closing(),
            )
        except NotYoursError:
            return _error(_Refusal(404, "NOT_FOUND", views.not_your_order(t)))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            await response.prepare(request)
            await response.write(b"retry: 2000\n\n")
            async for state in changes:
                if state is None:
                    await response.write(b": keep-alive\n\n")
                    continue
                data = json.dumps(order_json(t, state), ensure_ascii=False)
                await response.write(f"event: order\ndata: {data}\n\n".encode())
                if state.order.is_final:
                    await response.write(b"event: end\ndata: {}\n\n")
        except ConnectionResetError:
            pass  # the page went away
        finally:
            await changes.aclose()
        return response


# -- the page -------------------------------------------------------------------------------

_TYPES: Final = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".txt": "text/plain",
    ".png": "image/png",
}
_ASSETS: Final = ("app.css", "app.js", "vendor/telegram-web-app.js")
_IMMUTABLE: Final = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    etag: str
    content_type: str


def _file(body: bytes, suffix: str) -> _File:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return _File(body, f'"{digest}"', _TYPES.get(suffix, "application/octet-stream"))


def load_page(static_dir: Path = STATIC_DIR) -> dict[str, _File]:
    """The page's files by URL name, read once; asset URLs in index.html carry their hash
    (``app.js?v=…``) so they can be cached for good and still change with a new release."""
    files = {name: _file((static_dir / name).read_bytes(), Path(name).suffix) for name in _ASSETS}
    html = (static_dir / "index.html").read_text("utf-8")
    for name in _ASSETS:
        html = html.replace(f'"{name}"', f'"{name}?v={files[name].etag.strip(chr(34))}"')
    files[""] = _file(html.encode(), ".html")
    return files


_SECURITY: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'"
    ),
}


def _static_handler(
    files: dict[str, _File],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "")
        found = files.get(name)
        if found is None:
            raise web.HTTPNotFound
        versioned = name != "" and request.query.get("v") == found.etag.strip('"')
        headers = {
            **_SECURITY,
            "ETag": found.etag,
            "Cache-Control": _IMMUTABLE if versioned else "no-cache",
        }
        if request.headers.get("If-None-Match") == found.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=found.body, content_type=found.content_type, headers=headers)

    return serve


def setup_webapp(
    app: web.Application,
    services: Services,
    bot_token: str,
    config: WebAppConfig | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> WebApp:
    """Add the page and its API to the process's aiohttp application.

    Args:
        app: The one HTTP server of the process.
        services: The chat's services (store, accounts, catalog, purchases, orders, tracker).
        bot_token: Signs ``initData``; never sent anywhere.
        config: Path prefix, ``initData`` age limit, live stream timings.
        clock: Wall clock (Unix seconds) for ``auth_date`` checks.
    """
    config = config or WebAppConfig()
    web_app = WebApp(
        MiniApp(services),
        InitDataValidator(bot_token, max_age=config.max_age, clock=clock),
        config,
        clock=clock,
    )
    api = f"{config.prefix}/api"
    router = app.router
    router.add_get(f"{api}/session", web_app.session)
    router.add_get(f"{api}/services", web_app.services)
    router.add_get(f"{api}/services/{{code}}/countries", web_app.countries)
    router.add_post(f"{api}/quote", web_app.quote)
    router.add_post(f"{api}/buy", web_app.buy)
    router.add_get(f"{api}/orders", web_app.history)
    router.add_get(f"{api}/orders/{{order_id}}", web_app.order)
    router.add_post(f"{api}/orders/{{order_id}}/cancel", web_app.cancel)
    router.add_post(f"{api}/orders/{{order_id}}/next-sms", web_app.next_sms)
    router.add_get(f"{api}/orders/{{order_id}}/events", web_app.events)
    router.add_post(f"{api}/orders/{{order_id}}/favourite", web_app.toggle_order_favourite)
    router.add_get(f"{api}/favourites", web_app.favourites)
    router.add_post(f"{api}/favourites", web_app.toggle_favourite)
    router.add_get(
        f"{api}/services/{{code}}/countries/{{country}}/alternatives", web_app.alternatives
    )
    router.add_get(f"{api}/alerts", web_app.alerts)
    router.add_post(f"{api}/alerts", web_app.notify_me)
    router.add_post(f"{api}/alerts/{{alert_id}}/cancel", web_app.cancel_alert)
    app.on_shutdown.append(web_app.close_streams)
    serve = _static_handler(load_page())
    router.add_get(f"{config.prefix}", _redirect(f"{config.prefix}/"))
    router.add_get(f"{config.prefix}/", serve)
    router.add_get(
        f"{config.prefix}/{{name:app\\.css|app\\.js|vendor/telegram-web-app\\.js}}", serve
    )
    return web_app


def _redirect(location: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(location)

    return redirect
