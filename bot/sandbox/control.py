"""Test controls over HTTP under ``/_sandbox``: thin wrappers of the server's methods.

No auth. Successful answers are bare JSON objects (no ``ok``/``data``
envelope); errors use the API's error body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiohttp import web

from bot.sandbox.engine import ApiError

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxServer

CONTROL_PREFIX = "/_sandbox"

T = TypeVar("T")

_DONE = {"ok": True}


def add_control_routes(app: web.Application, server: SandboxServer) -> None:
    """Adds every ``/_sandbox`` route of ``server`` to ``app``."""
    controls = _Controls(server)
    routes = [
        ("POST", "/accounts", controls.create_account),
        ("POST", "/accounts/{key}/revoke", controls.revoke),
        ("POST", "/accounts/{key}/balance", controls.balance),
        ("GET", "/orders/{id}", controls.order),
        ("POST", "/orders/{id}/sms", controls.sms),
        ("POST", "/orders/{id}/expire", controls.expire),
        ("POST", "/orders/{id}/fail", controls.fail),
        ("POST", "/faults", controls.fault),
        ("POST", "/latency", controls.latency),
        ("POST", "/list-lag", controls.list_lag),
        ("POST", "/stock", controls.stock),
        ("POST", "/price", controls.price),
        ("POST", "/delivery", controls.delivery),
        ("POST", "/rate-window", controls.rate_window),
        ("GET", "/stats", controls.stats),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, CONTROL_PREFIX + path, handler)


class _Controls:
    def __init__(self, server: SandboxServer) -> None:
        self._server = server

    async def create_account(self, request: web.Request) -> web.Response:
        body = await _body(request)
        given = {
            "balance_cents": _cents(body["balanceCents"]) if "balanceCents" in body else None,
            "display_name": _get(body, "displayName", str),
            "lang": _get(body, "lang", str),
            "banned": _get(body, "banned", bool),
        }
        options: dict[str, Any] = {
            name: value for name, value in given.items() if value is not None
        }
        key = self._server.create_account(_get(body, "key", str), **options)
        return web.json_response({"key": key, "id": self._server.account_id(key)})

    async def revoke(self, request: web.Request) -> web.Response:
        self._server.revoke_key(request.match_info["key"])
        return web.json_response(_DONE)

    async def balance(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self._server.set_balance(request.match_info["key"], _cents(body.get("balanceCents")))
        return web.json_response(_DONE)

    async def order(self, request: web.Request) -> web.Response:
        return web.json_response(self._server.order_snapshot(request.match_info["id"]))

    async def sms(self, request: web.Request) -> web.Response:
        body = await _body(request)
        order = self._server.deliver_sms(request.match_info["id"], _get(body, "body", str))
        return web.json_response(order)

    async def expire(self, request: web.Request) -> web.Response:
        return web.json_response(self._server.expire(request.match_info["id"]))

    async def fail(self, request: web.Request) -> web.Response:
        return web.json_response(self._server.fail(request.match_info["id"]))

    async def fault(self, request: web.Request) -> web.Response:
        body = await _body(request)
        count = _get(body, "count", int)
        seconds = _get(body, "seconds", float)
        self._server.inject_fault(
            _required(body, "kind", str),
            1 if count is None else count,
            path=_get(body, "path", str),
            key=_get(body, "key", str),
            seconds=seconds,
        )
        return web.json_response(_DONE)

    async def latency(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self._server.set_latency(_required(body, "seconds", float), key=_get(body, "key", str))
        return web.json_response(_DONE)

    async def list_lag(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self._server.set_list_lag(_required(body, "seconds", float))
        return web.json_response(_DONE)

    async def stock(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self._server.set_stock(
            _required(body, "service", str), _country(body), _required(body, "count", int)
        )
        return web.json_response(_DONE)

    async def price(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self._server.set_price(
            _required(body, "service", str), _country(body), _required(body, "cents", int)
        )
        return web.json_response(_DONE)

    async def delivery(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self._server.set_delivery(_country(body), _required(body, "mode", str))
        return web.json_response(_DONE)

    async def rate_window(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self._server.set_rate_window(
            _required(body, "seconds", float),
            read_limit=_get(body, "readLimit", int),
            write_limit=_get(body, "writeLimit", int),
        )
        return web.json_response(_DONE)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(self._server.stats())


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object of a request; an empty body counts as ``{}``."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "The body must be JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BAD_REQUEST", "The body must be a JSON object.")
    return body


def _country(body: dict[str, Any]) -> int | str:
    country = body.get("country")
    if isinstance(country, bool) or not isinstance(country, int | str):
        raise ApiError(400, "BAD_REQUEST", "country must be an id or a slug.")
    return country


def _get(body: dict[str, Any], name: str, kind: type[T]) -> T | None:
    """An optional field of a type (an int is accepted where a float is wanted)."""
    value = body.get(name)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return cast(T, float(value))
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ApiError(400, "BAD_REQUEST", f"{name} must be a {kind.__name__}.")
    return value


def _required(body: dict[str, Any], name: str, kind: type[T]) -> T:
    value = _get(body, name, kind)
    if value is None:
        raise ApiError(400, "BAD_REQUEST", f"{name} is required.")
    return value


def _cents(value: object) -> int:
    """Cents given as the API gives them (a string of an integer), or as an int."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ApiError(400, "BAD_REQUEST", "balanceCents must be a non-negative integer string.")
