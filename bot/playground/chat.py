"""The web chat's server: static files, a small JSON API and an SSE stream of chat changes.

The web chat is a client of the Bot API server, as Telegram's own apps are: everything it
does goes through the fake's user-facing side (:class:`~bot.fakebotapi.FakeUser`: send,
press, messages…), never through bot code (only the table of the bot's languages is read,
for the language select).  It also shows the sandbox's view of the key a
user typed (balance, orders) and lets the person make an SMS arrive or an order expire.

Routes (all on loopback):

``GET /``                           the chat (``static/index.html``)
``GET /api/events``                 SSE: the whole playground state, sent again on each change
``POST /api/users/{id}/send``       ``{"text"}``: the user sends a message
``POST /api/users/{id}/press``      ``{"message_id", "row", "column", "text"}``: press a
                                    callback button; answers with the bot's
                                    ``answerCallbackQuery`` once it comes
``POST /api/users/{id}/language``   ``{"language_code"}``: the user's app language
``POST /api/users/{id}/webapp``     ``{"url", "theme"}``: the Mini App launch URL, signed initData
``POST /api/orders/{id}/sms``       sandbox control: deliver an SMS now
``POST /api/orders/{id}/expire``    sandbox control: expire now
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser, RequestRecord
from bot.fakebotapi.webapp import DARK_THEME, LIGHT_THEME, launch_url, sign_init_data
from bot.i18n import LANGUAGES
from bot.sandbox import SandboxServer
from bot.sandbox.engine import AUTO_KEY_RE, ApiError

STATIC_DIR = Path(__file__).parent / "static"

# Host names the chat's pages and API answer for.
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})

THEMES = {"light": LIGHT_THEME, "dark": DARK_THEME}

# How often the event stream looks again without a change in the fake: the sandbox's state
# (an SMS due, an order expiring) moves with time alone.
_RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class BotStatus:
    """What the web chat shows about the bot process in its header."""

    state: str  # "starting", "online" or "exited"
    exit_code: int | None = None
    log_path: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """A Telegram error the bot was answered, placed in the chats after the message that was
    last at the time (``anchors``: chat id -> message id; 0 for an empty chat)."""

    record: RequestRecord
    anchors: dict[int, int]


class ChatServer:
    """The web chat for the users of a :class:`FakeBotApi`, with a sandbox side panel.

    Args:
        telegram: The strict fake; its errors become red notices in the chat.
        sandbox: The jiema sandbox the bot talks to.
        users: The people in the side panel's user switcher, in order.
        bot_status: Called for every state sent, to show whether the bot process runs.
        clock: Unix seconds, for ``auth_date`` of Mini App launches.
    """

    def __init__(
        self,
        telegram: FakeBotApi,
        sandbox: SandboxServer,
        users: list[FakeUser],
        bot_status: Callable[[], BotStatus],
        clock: Callable[[], float],
    ) -> None:
        self._telegram = telegram
        self._sandbox = sandbox
        self._users = {user.id: user for user in users}
        self._bot_status = bot_status
        self._clock = clock
        self._keys: dict[int, str] = {}  # user id -> the last jiema key they typed
        self._notices: list[Notice] = []
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        telegram.subscribe(self._on_request)
        self.url = ""

    async def start(self, host: str, port: int) -> str:
        """Serve on ``host:port``; returns the chat's URL."""
        app = web.Application(middlewares=[self._same_origin_only])
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR)
        app.router.add_get("/api/events", self._events)
        app.router.add_post("/api/users/{user}/send", self._send)
        app.router.add_post("/api/users/{user}/press", self._press)
        app.router.add_post("/api/users/{user}/language", self._language)
        app.router.add_post("/api/users/{user}/webapp", self._webapp)
        app.router.add_post("/api/orders/{order}/{action:sms|expire}", self._order_action)
        # handler_cancellation: an event stream whose tab was closed ends at once.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        return self.url

    async def stop(self) -> None:
        """End the event streams and close the server."""
        self._closing.set()
        self._telegram.world.signal.notify()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- state ---------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything the web chat shows, as JSON-able data."""
        status = self._bot_status()
        bot = self._telegram.world.bot
        errors = {id(record) for record in self._telegram.errors}
        notices = [n for n in self._notices if id(n.record) in errors]
        return {
            "bot": {
                "name": bot["first_name"],
                "username": bot["username"],
                "state": status.state,
                "exit_code": status.exit_code,
                "log": status.log_path,
            },
            "languages": self._languages(),
            "themes": THEMES,
            "users": [self._user_state(user, notices) for user in self._users.values()],
        }

    def _user_state(self, user: FakeUser, notices: list[Notice]) -> dict[str, Any]:
        return {
            "id": user.id,
            "first_name": user.first_name,
            "language_code": user.profile.get("language_code", ""),
            "messages": [_message_json(m) for m in user.messages if not m.deleted],
            "typing": len(user.chat.actions),
            "commands": self._commands(user),
            "menu_button": self._telegram.menu_button(user.id),
            "notices": [
                {
                    "after": notice.anchors[user.id],
                    "method": notice.record.method,
                    "status": notice.record.status,
                    "description": notice.record.description,
                }
                for notice in notices
                if user.id in notice.anchors
            ],
            "sandbox": self._sandbox_state(user.id),
        }

    def _commands(self, user: FakeUser) -> list[dict[str, str]]:
        """The command menu a Telegram app shows this user: the narrowest scope with
        commands, in the user's language before the commands for every language."""
        language = str(user.profile.get("language_code", ""))
        scopes: list[dict[str, Any] | None] = [
            {"type": "chat", "chat_id": user.id},
            {"type": "all_private_chats"},
            None,
        ]
        for scope in scopes:
            for code in dict.fromkeys((language, "")):
                commands = self._telegram.commands(scope, code)
                if commands:
                    return commands
        return []

    @staticmethod
    def _languages() -> list[dict[str, str]]:
        """The bot's languages, each as the ``language_code`` a Telegram app in that language
        sends (an IETF tag: ``ru``, ``zh-hant``, ``fil``)."""
        return [
            {"code": code.replace("_", "-").lower(), "name": name}
            for code, name in LANGUAGES.items()
        ]

    def _sandbox_state(self, user_id: int) -> dict[str, Any]:
        """The sandbox's account of the key the user last typed (never the key itself)."""
        key = self._keys.get(user_id)
        if key is None:
            return {"key": False}
        try:
            account = self._sandbox.engine.account_of_key(key)
        except ApiError:  # typed, but the bot has not used it yet
            return {"key": True, "known": False}
        catalogue = self._sandbox.engine.catalogue
        orders = []
        for order in self._sandbox.orders(key):
            service = catalogue.service(order["service"])
            orders.append(
                {
                    "id": order["id"],
                    "service": service.name if service else order["service"],
                    "phone": order["phone"],
                    "status": order["status"],
                    "sms": len(order["smsHistory"]),
                    "expires_at": order["expiresAt"],
                }
            )
        return {
            "key": True,
            "known": True,
            "balance": f"${account.balance_cents // 100}.{account.balance_cents % 100:02d}",
            "orders": orders,
        }

    def _on_request(self, record: RequestRecord) -> None:
        """Remember where each failed call stood in the chats it concerns."""
        if record.status == 200:
            return
        chat_id = record.params.get("chat_id")
        query = self._telegram.world.callback_queries.get(
            record.params.get("callback_query_id", "")
        )
        if query is not None:
            chat_id = str(query.message.chat.id)
        # An error about no chat of ours (or none at all) is shown in every chat.
        concerned = [u for u in self._users.values() if chat_id == str(u.id)]
        concerned = concerned or list(self._users.values())
        anchors = {
            user.id: user.chat.transcript[-1].message_id if user.chat.transcript else 0
            for user in concerned
        }
        self._notices.append(Notice(record, anchors))

    # -- HTTP ----------------------------------------------------------------------------

    @web.middleware
    async def _same_origin_only(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse what another web site could make the person's browser send here: a request
        for another host name (DNS rebinding), and a POST that is not JSON (a cross-site
        "simple" request; a JSON one needs a CORS preflight, which is never granted)."""
        name, _, port = request.host.rpartition(":")
        if (name if port.isdigit() else request.host) not in _LOOPBACK_NAMES:
            raise web.HTTPMisdirectedRequest(text="the playground answers on loopback only")
        if request.method == "POST" and request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="JSON only")
        return await handler(request)

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        signal = self._telegram.world.signal
        sent = ""

        def changed() -> str | None:
            data = json.dumps(self.state(), ensure_ascii=False)
            return data if data != sent or self._closing.is_set() else None

        while not self._closing.is_set():
            data = await signal.wait_until(changed, _RECHECK_SECONDS)
            if data is not None and not self._closing.is_set():
                await response.write(f"data: {data}\n\n".encode())
                sent = data
        return response

    async def _send(self, request: web.Request) -> web.Response:
        user = self._user(request)
        text = _string(await _body(request), "text")
        key = AUTO_KEY_RE.search(text)
        if key is not None:
            self._keys[user.id] = key.group()
        try:
            message = await user.send(text)
        except ValueError as exc:  # an empty message: Telegram apps send none
            raise _bad_request(str(exc)) from None
        return web.json_response({"message_id": message.message_id})

    async def _press(self, request: web.Request) -> web.Response:
        """Press a callback button and wait, like the client's spinner, for the answer."""
        user = self._user(request)
        body = await _body(request)
        message = user.chat.get(_integer(body, "message_id"))
        if message is None or message.deleted or not message.from_bot:
            raise _bad_request("no such message")
        try:
            button = message.buttons[_integer(body, "row")][_integer(body, "column")]
        except IndexError:
            raise _bad_request("no such button") from None
        if button.text != _string(body, "text"):
            return web.json_response({"error": "the keyboard changed; press again"}, status=409)
        if button.kind != "callback_data":
            raise _bad_request(f"a {button.kind} button sends the bot no callback query")
        query_id = user.tap(message, button.value)
        world = self._telegram.world
        query = world.callback_queries[query_id]
        answer = await world.signal.wait_until(lambda: query.answer, world.callback_timeout)
        if answer is None:
            return web.json_response({"answered": False})
        return web.json_response(
            {
                "answered": True,
                "text": answer.text,
                "show_alert": answer.show_alert,
                "url": answer.url,
            }
        )

    async def _language(self, request: web.Request) -> web.Response:
        user = self._user(request)
        code = _string(await _body(request), "language_code")
        if code not in {language["code"] for language in self._languages()}:
            raise _bad_request(f"the bot has no language {code!r}")
        user.profile["language_code"] = code
        self._telegram.world.signal.notify()
        return web.json_response({"language_code": code})

    async def _webapp(self, request: web.Request) -> web.Response:
        """The URL a Telegram app loads to open a Mini App for this user."""
        user = self._user(request)
        body = await _body(request)
        url, theme = _string(body, "url"), _string(body, "theme")
        if not url.startswith(("http://", "https://")) or theme not in THEMES:
            raise _bad_request("url must be http(s) and theme light or dark")
        fields = ("id", "first_name", "last_name", "username", "language_code", "is_premium")
        web_app_user = {name: user.profile[name] for name in fields if name in user.profile}
        web_app_user["allows_write_to_pm"] = True
        init_data = sign_init_data(
            self._telegram.token,
            web_app_user,
            auth_date=int(self._clock()),
            query_id=secrets.token_urlsafe(12),
        )
        return web.json_response({"url": launch_url(url, init_data, theme=THEMES[theme])})

    async def _order_action(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order"]
        try:
            if request.match_info["action"] == "sms":
                self._sandbox.deliver_sms(order_id)
            else:
                self._sandbox.expire(order_id)
        except ApiError as exc:
            return web.json_response({"error": exc.message}, status=409)
        self._telegram.world.signal.notify()
        return web.json_response({"ok": True})

    def _user(self, request: web.Request) -> FakeUser:
        raw = request.match_info["user"]
        user = self._users.get(int(raw)) if raw.isdigit() else None
        if user is None:
            raise web.HTTPNotFound(text="no such user")
        return user


def _message_json(message: ChatMessage) -> dict[str, Any]:
    """A message as a Telegram app receives it: text, entities, inline keyboard."""
    return {
        "id": message.message_id,
        "out": not message.from_bot,
        "text": message.text,
        "entities": [entity.to_api() for entity in message.entities],
        "buttons": [
            [{"text": button.text, "kind": button.kind, "value": button.value} for button in row]
            for row in message.buttons
        ],
        "edited": message.edited > 0,
        "date": message.date,
        "content": next(iter(message.content), None),
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _bad_request("the body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("the body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise _bad_request(f"{name} must be a string")
    return value


def _integer(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad_request(f"{name} must be an integer")
    return value


def _bad_request(text: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": text}), content_type="application/json")
