"""The Mini App's JSON API under ``<prefix>/api/``: one aiohttp handler per route.

Each handler is parse → one :class:`~bot.services.miniapp.MiniApp` call → render JSON
(:mod:`bot.webapp.serialise`); :func:`endpoint` admits the request first (``initData``,
the user's request budget: :mod:`bot.webapp.gate`), and turns what the call raises into
the matching error answer (:mod:`bot.webapp.errors`). Every input is checked for its shape
(:mod:`bot.webapp.inputs`) before it reaches a service.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot import logs, views
from bot.i18n import Translator, get_translator
from bot.services.alerts import TooManyAlerts, Watching
from bot.services.favourites import Added, Full, Removed, ToggleOutcome
from bot.services.miniapp import MiniApp, NotYoursError, OfferGoneError, waiting_at_most
from bot.services.purchases import AlreadyUsed, PriceRose, Quote, Unconfirmed
from bot.webapp.auth import WebAppUser
from bot.webapp.errors import Refusal, bad_request, error, ok, refusal_for
from bot.webapp.gate import Gate
from bot.webapp.inputs import country_id, is_cursor, is_id
from bot.webapp.serialise import (
    alert_json,
    alternatives_json,
    auto_replace_json,
    countries_json,
    favourite_json,
    history_json,
    order_json,
    purchased_json,
    quote_json,
    service_json,
    session_json,
)
from bot.webapp.texts import plain

log = logging.getLogger(__name__)

_MAX_JSON_BODY = 4096


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated request."""

    request: web.Request
    user: WebAppUser
    t: Translator


Endpoint = Callable[["WebApp", Call], Awaitable[web.StreamResponse]]


def endpoint(handler: Endpoint) -> Callable[[WebApp, web.Request], Awaitable[web.StreamResponse]]:
    """Admit (authenticate, spend a request of the user's budget), run the handler with a
    bounded wait for API slots, turn what it raises into the matching error answer.

    A read (GET) is cancelled when its page goes away: nobody would read its answer, and it
    would otherwise keep waiting for a slot of the user's API budget.
    """

    @functools.wraps(handler)
    async def handle(self: WebApp, request: web.Request) -> web.StreamResponse:
        user = await self.gate.admit(request)
        if isinstance(user, web.Response):
            return user
        logs.bind_user(user.id)
        t = get_translator(await self.app.language(user))
        try:
            with waiting_at_most(self._slot_wait):
                work = handler(self, Call(request, user, t))
                if request.method == "GET":
                    return await self._unless_gone(request, work)
                return await work
        except Exception as exc:
            refusal = refusal_for(exc, t)
            if refusal is None:
                log.exception("webapp: %s failed", request.path)
                refusal = Refusal(500, "INTERNAL", plain(views.sorry(t).text))
            return error(refusal)

    return handle


async def _json_body(request: web.Request, t: Translator) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > _MAX_JSON_BODY:
        raise bad_request(t)
    try:
        body = json.loads(await request.content.read(_MAX_JSON_BODY + 1) or b"null")
    except ValueError:
        raise bad_request(t) from None
    if not isinstance(body, dict):
        raise bad_request(t)
    return body


def _pair(body: dict[str, Any], t: Translator) -> tuple[str, int]:
    """``{"service": "wa", "country": 7}`` of a request body."""
    service, country = body.get("service"), body.get("country")
    if not is_id(service) or not isinstance(country, int) or country_id(country) is None:
        raise bad_request(t)
    return service, country


def _order_id(call: Call) -> str:
    order_id = call.request.match_info["order_id"]
    if not is_id(order_id):
        raise NotYoursError
    return order_id


def _switch(call: Call) -> bool:
    """A 🔁 switch's ``?on=true`` or ``?on=false``."""
    on = {"true": True, "false": False}.get(call.request.query.get("on", ""))
    if on is None:
        raise bad_request(call.t)
    return on


class WebApp:
    """The API routes of one process; built by :func:`bot.webapp.api.setup_webapp`.

    Args:
        history_page: Orders per page of the history.
        clock: Wall clock (Unix seconds) for the alerts' time left.
    """

    def __init__(
        self,
        app: MiniApp,
        gate: Gate,
        *,
        history_page: int,
        slot_wait: float,
        gone_poll: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.gate = gate
        self._history_page = history_page
        self._slot_wait = slot_wait
        self._gone_poll = gone_poll
        self._clock = clock
        self.pending = 0
        """Reads (GET) being answered now (a page that left must not keep one waiting)."""

    async def _unless_gone(
        self, request: web.Request, work: Awaitable[web.StreamResponse]
    ) -> web.StreamResponse:
        """``work``'s answer, or, once the client's connection is closed, cancel ``work``."""
        task = asyncio.ensure_future(work)
        self.pending += 1
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._gone_poll)
                if done:
                    return task.result()
                if request.transport is None or request.transport.is_closing():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    return web.Response(status=499)  # nobody is there to read it
        finally:
            task.cancel()
            self.pending -= 1

    def add_routes(self, router: web.UrlDispatcher, api: str) -> None:
        """Register every API route under the path ``api``."""
        router.add_get(f"{api}/session", self.session)
        router.add_get(f"{api}/services", self.services)
        router.add_get(f"{api}/services/{{code}}/countries", self.countries)
        router.add_post(f"{api}/quote", self.quote)
        router.add_post(f"{api}/quote/auto-replace", self.quote_auto_replace)
        router.add_post(f"{api}/buy", self.buy)
        router.add_get(f"{api}/orders", self.history)
        router.add_get(f"{api}/orders/{{order_id}}", self.order)
        router.add_post(f"{api}/orders/{{order_id}}/cancel", self.cancel)
        router.add_post(f"{api}/orders/{{order_id}}/next-sms", self.next_sms)
        router.add_post(f"{api}/orders/{{order_id}}/favourite", self.toggle_order_favourite)
        router.add_post(f"{api}/orders/{{order_id}}/auto-replace", self.auto_replace)
        router.add_get(f"{api}/favourites", self.favourites)
        router.add_post(f"{api}/favourites", self.toggle_favourite)
        router.add_get(
            f"{api}/services/{{code}}/countries/{{country}}/alternatives", self.alternatives
        )
        router.add_get(f"{api}/alerts", self.alerts)
        router.add_post(f"{api}/alerts", self.notify_me)
        router.add_post(f"{api}/alerts/{{alert_id}}/cancel", self.cancel_alert)

    @endpoint
    async def session(self, call: Call) -> web.StreamResponse:
        return ok(session_json(await self.app.profile(call.user)))

    @endpoint
    async def services(self, call: Call) -> web.StreamResponse:
        items = await self.app.catalogue(call.user.id)
        return ok([service_json(call.t, s) for s in items])

    @endpoint
    async def countries(self, call: Call) -> web.StreamResponse:
        code = call.request.match_info["code"]
        if not is_id(code):
            raise OfferGoneError
        return ok(countries_json(call.t, await self.app.countries(call.user.id, code)))

    @endpoint
    async def quote(self, call: Call) -> web.StreamResponse:
        service, country = _pair(await _json_body(call.request, call.t), call.t)
        return ok(quote_json(call.t, await self.app.quote(call.user.id, service, country)))

    @endpoint
    async def quote_auto_replace(self, call: Call) -> web.StreamResponse:
        """``?on=true`` or ``?on=false``, the token in the body: the confirmation's switch."""
        on, t = _switch(call), call.t
        token = (await _json_body(call.request, t)).get("token")
        if not is_id(token):
            raise bad_request(t)
        if not await self.app.set_quote_auto_replace(call.user.id, token, on):
            raise Refusal(409, "ALREADY_USED", views.purchase_used(t))
        return ok(
            {"auto_replace": auto_replace_json(t, on), "note": views.auto_replace_label(t, on)}
        )

    @endpoint
    async def buy(self, call: Call) -> web.StreamResponse:
        body = await _json_body(call.request, call.t)
        token = body.get("token")
        if not is_id(token):
            raise bad_request(call.t)
        result = await self.app.buy(call.user.id, token)
        t = call.t
        if isinstance(result, AlreadyUsed):
            order = result.order.id if result.order else None
            raise Refusal(409, "ALREADY_USED", views.purchase_used(t), order=order)
        if isinstance(result, Unconfirmed):
            raise Refusal(202, "UNCONFIRMED", plain(views.purchase_unconfirmed(t).text))
        if isinstance(result, PriceRose):
            new = result.quote
            if not isinstance(new, Quote):
                raise OfferGoneError
            rose = views.price_rose_text(t, result.confirmed_cents, new.offer.price_cents)
            raise Refusal(409, "PRICE_CHANGED", plain(rose), quote=quote_json(t, new))
        return ok(purchased_json(t, result), status=201)

    @endpoint
    async def history(self, call: Call) -> web.StreamResponse:
        cursor = call.request.query.get("cursor") or None
        if cursor is not None and not is_cursor(cursor):
            raise bad_request(call.t)
        history = await self.app.history(call.user.id, cursor, self._history_page)
        return ok(
            {
                "items": [history_json(call.t, o, history.names) for o in history.orders],
                "next_cursor": history.next_cursor,
            }
        )

    @endpoint
    async def order(self, call: Call) -> web.StreamResponse:
        state = await self.app.order(call.user.id, _order_id(call))
        return ok(order_json(call.t, state))

    @endpoint
    async def cancel(self, call: Call) -> web.StreamResponse:
        state = await self.app.cancel(call.user.id, _order_id(call))
        return ok({**order_json(call.t, state), "note": views.cancelled(call.t, state.order)})

    @endpoint
    async def next_sms(self, call: Call) -> web.StreamResponse:
        state = await self.app.next_sms(call.user.id, _order_id(call))
        return ok({**order_json(call.t, state), "note": views.waiting_again(call.t)})

    @endpoint
    async def auto_replace(self, call: Call) -> web.StreamResponse:
        """``?on=true`` or ``?on=false``: the order screen's switch."""
        on = _switch(call)
        state = await self.app.set_auto_replace(call.user.id, _order_id(call), on)
        return ok({**order_json(call.t, state), "note": views.auto_replace_label(call.t, on)})

    @endpoint
    async def favourites(self, call: Call) -> web.StreamResponse:
        items = await self.app.favourites(call.user.id)
        return ok([favourite_json(call.t, i) for i in items if i.favourite.country_id.isdigit()])

    @endpoint
    async def toggle_favourite(self, call: Call) -> web.StreamResponse:
        service, country = _pair(await _json_body(call.request, call.t), call.t)
        return self._toggled(
            call.t, await self.app.toggle_favourite(call.user.id, service, country)
        )

    @endpoint
    async def toggle_order_favourite(self, call: Call) -> web.StreamResponse:
        outcome = await self.app.toggle_order_favourite(call.user.id, _order_id(call))
        return self._toggled(call.t, outcome)

    @staticmethod
    def _toggled(t: Translator, outcome: ToggleOutcome) -> web.Response:
        """The ★ answer: the new state and the chat's words for it, or the chat's refusal."""
        note = views.favourite_toggled(t, outcome)
        if isinstance(outcome, Added | Removed):
            return ok({"on": isinstance(outcome, Added), "note": note})
        raise Refusal(409, "FAVOURITES_FULL" if isinstance(outcome, Full) else "OFFER_GONE", note)

    @endpoint
    async def alternatives(self, call: Call) -> web.StreamResponse:
        code = call.request.match_info["code"]
        country = country_id(call.request.match_info["country"])
        if not is_id(code) or country is None:
            raise OfferGoneError
        alts = await self.app.alternatives(call.user.id, code, country)
        return ok(alternatives_json(call.t, alts))

    @endpoint
    async def notify_me(self, call: Call) -> web.StreamResponse:
        service, country = _pair(await _json_body(call.request, call.t), call.t)
        outcome = await self.app.notify_me(call.user.id, service, country)
        t = call.t
        if isinstance(outcome, TooManyAlerts):
            raise Refusal(409, "TOO_MANY_ALERTS", views.too_many_alerts(t, outcome.limit))
        if not isinstance(outcome, Watching):
            raise OfferGoneError
        alert = outcome.alert
        hours = (alert.expires_at - alert.created_at).total_seconds() / 3600
        return ok(
            {
                "alert": alert_json(t, alert, self._now()),
                "note": views.watching(t, outcome, hours),
            },
            status=201 if outcome.new else 200,
        )

    @endpoint
    async def alerts(self, call: Call) -> web.StreamResponse:
        waiting = await self.app.alerts(call.user.id)
        now = self._now()
        return ok([alert_json(call.t, a, now) for a in waiting])

    @endpoint
    async def cancel_alert(self, call: Call) -> web.StreamResponse:
        alert_id = call.request.match_info["alert_id"]
        if not is_id(alert_id):
            raise NotYoursError
        await self.app.cancel_alert(call.user.id, alert_id)
        return ok({"note": views.alert_cancelled(call.t)})

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
