"""The HTTP side: ``/bot{token}/{method}`` on 127.0.0.1, recording every call.

:class:`FakeBotApi` is also the entry point for tests: it creates users and groups, and
exposes the request log (``requests``, ``errors``) for assertions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from .errors import ApiError
from .flood import DEFAULT_FLOOD_LIMITS, FloodControl, FloodLimits
from .methods import Described, Methods
from .params import Params
from .state import Chat, RequestRecord, WebhookConfig, WebhookDelivery, World
from .users import FakeUser
from .webhook import DEFAULT_DELIVERY_TIMEOUT, DEFAULT_RETRY_DELAYS, WebhookSender

_MAX_BODY = 64 * 1024 * 1024
_LOGGER = logging.getLogger(__name__)


class FakeBotApi:
    """A strict, in-process fake of the Telegram Bot API.

    Args:
        token: The bot token; any other token gets ``401 Unauthorized``.
        bot_username: The bot's username (without ``@``).
        bot_first_name: The bot's display name.
        flood: Flood-control limits; None switches flood control off.
        clock: Monotonic seconds for flood control and callback-query expiry.
        wall_clock: Unix seconds for ``date`` fields and the 48-hour deletion rule.
        strict_entities: Reject a bare ``&``/``>`` and unknown HTML entities, which Telegram
            silently shows as literal text (see :mod:`.html`).
        callback_timeout: Seconds within which a callback query must be answered.
        webhook_retry_delays: Seconds before the 1st, 2nd… retry of an update the webhook
            did not take (the last value repeats); Telegram's are about 0, 2, 4… up to 60.
        webhook_timeout: Seconds a webhook delivery waits for the answer (Telegram: 60).

    Example::

        server = FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot")
        root = await server.start()
        alice = server.user(1001, first_name="Alice", language_code="en")
        await alice.send("/start")
        reply = await alice.wait_for_message(lambda m: "Welcome" in m.text)
        await server.stop()
    """

    def __init__(
        self,
        token: str = "123456:TEST",  # noqa: S107 - a fake token for a fake server
        bot_username: str = "jiema_test_bot",
        *,
        bot_first_name: str = "Jiema Test Bot",
        flood: FloodLimits | None = DEFAULT_FLOOD_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        strict_entities: bool = True,
        callback_timeout: float = 15.0,
        webhook_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        webhook_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
    ) -> None:
        bot_id = int(token.split(":", 1)[0])
        self.token = token
        self.bot_username = bot_username
        self.world = World(
            bot={
                "id": bot_id,
                "is_bot": True,
                "first_name": bot_first_name,
                "username": bot_username,
            },
            clock=clock,
            wall_clock=wall_clock,
            flood=FloodControl(flood, clock),
            strict_entities=strict_entities,
            callback_timeout=callback_timeout,
            token=token,
        )
        self._webhook = WebhookSender(
            self.world, retry_delays=webhook_retry_delays, timeout=webhook_timeout
        )
        self._methods = Methods(self.world, self._webhook)
        self._users: dict[int, FakeUser] = {}
        self._runner: web.AppRunner | None = None
        self.root = ""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1.

        Returns:
            The root URL, e.g. ``http://127.0.0.1:41234``; the bot's ``base_url`` is
            ``f"{root}/bot"`` (also available as :attr:`base_url`).
        """
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        # handler_cancellation: a long poll whose client went away ends at once.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.root = f"http://{host}:{port}"
        return self.root

    async def stop(self) -> None:
        """End pending long polls, abandon webhook deliveries and close the server."""
        self.world.closing = True
        self.world.signal.notify()
        await self._webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What to pass to ``ApplicationBuilder().base_url(...)``."""
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        """What to pass to ``ApplicationBuilder().base_file_url(...)`` (files are not served)."""
        return f"{self.root}/file/bot"

    # -- test-facing -------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool | None = None,
    ) -> FakeUser:
        """A user with a private chat whose id is ``user_id`` (the same user on repeat calls)."""
        if user_id in self._users:
            return self._users[user_id]
        if user_id <= 0:
            raise ValueError("user ids are positive")
        profile: dict[str, Any] = {"first_name": first_name}
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
            ("is_premium", is_premium),
        ):
            if value is not None:
                profile[key] = value
        user = self._users[user_id] = FakeUser(self.world, user_id, profile)
        return user

    def group(
        self,
        chat_id: int,
        title: str,
        *,
        type: str | None = None,
        bot_is_admin: bool = False,
        username: str | None = None,
    ) -> Chat:
        """A group the bot is a member of.

        Args:
            chat_id: Negative, as on Telegram.
            title: The group's title.
            type: ``group`` or ``supergroup``; default supergroup for ``-100…`` ids.
            bot_is_admin: Whether the bot may delete other members' messages.
            username: For public supergroups (``@username`` chat ids).
        """
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = type or ("supergroup" if str(chat_id).startswith("-100") else "group")
        if kind not in ("group", "supergroup"):
            raise ValueError(f"unsupported group type {kind!r}")
        fields: dict[str, Any] = {"title": title}
        if username is not None:
            fields["username"] = username
        chat = Chat(id=chat_id, type=kind, fields=fields, bot_is_admin=bot_is_admin)
        self.world.chats[chat_id] = chat
        return chat

    @property
    def requests(self) -> list[RequestRecord]:
        """Every call the bot made, in order."""
        return self.world.requests

    @property
    def errors(self) -> list[RequestRecord]:
        """Every error answered to the bot; clear it after provoking errors on purpose.

        Answers nobody received (a long poll the bot abandoned) are only in :attr:`requests`.
        """
        return self.world.errors

    def calls(self, method: str) -> list[RequestRecord]:
        """The calls of one method (case-insensitive name)."""
        return [r for r in self.world.requests if r.method.lower() == method.lower()]

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The commands the bot set for a scope (default ``{"type": "default"}``) and language."""
        key = (self._methods.scope_key(scope), language_code)
        return list(self.world.commands.get(key, []))

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot."""
        return len(self.world.updates)

    async def wait_for_poll(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a ``getUpdates`` long poll is waiting on the server (the bot is live).

        Raises:
            AssertionError: When none waits within ``timeout`` seconds.
        """
        methods = self._methods
        if await self.world.signal.wait_until(lambda: methods.waiting_polls or None, timeout):
            return
        raise AssertionError(f"no getUpdates long poll within {timeout} s")

    @property
    def webhook(self) -> WebhookConfig | None:
        """The webhook the bot set (None while it uses ``getUpdates``)."""
        return self.world.webhook

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery attempt (update_id, status, error…), in order of outcome."""
        return self.world.webhook_deliveries

    async def wait_for_webhook(self, timeout: float = 10.0) -> WebhookConfig:  # noqa: ASYNC109
        """Wait until the bot has set a webhook (a webhook-mode bot is live); returns it.

        Raises:
            AssertionError: When no webhook is set within ``timeout`` seconds.
        """
        world = self.world
        webhook = await world.signal.wait_until(lambda: world.webhook, timeout)
        if webhook is None:
            raise AssertionError(f"no webhook set within {timeout} s")
        return webhook

    async def wait_webhook_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a webhook is set and every pending update was delivered.

        Raises:
            AssertionError: When updates are still pending after ``timeout`` seconds, with
                the last delivery errors.
        """
        world, sender = self.world, self._webhook

        def idle() -> bool | None:
            done = world.webhook is not None and not world.updates and not sender.in_flight
            return True if done else None

        if await world.signal.wait_until(idle, timeout):
            return
        failures = [d for d in world.webhook_deliveries if not d.ok][-5:]
        raise AssertionError(
            f"webhook not idle within {timeout} s: webhook={world.webhook}, "
            f"{len(world.updates)} updates pending, {sender.in_flight} in flight; "
            f"last failures: {failures}"
        )

    def menu_button(self, chat_id: int | None = None) -> dict[str, Any]:
        """The menu button a private chat shows (its own, else the default, else commands);
        without ``chat_id``, the default button."""
        return self.world.menu_button(chat_id)

    def subscribe(self, listener: Callable[[RequestRecord], None]) -> Callable[[], None]:
        """Call ``listener`` with every request record as it is logged (before the answer
        goes out); returns the function that unsubscribes it.

        For load generators and benchmarks, which must not wake on every change of the
        world the way :meth:`.FakeUser.wait_for` does.
        """
        self.world.listeners.append(listener)
        return lambda: self.world.listeners.remove(listener)

    def assert_no_errors(self) -> None:
        """Fail with the list of errors, if the bot was answered any."""
        if self.world.errors:
            raise AssertionError(
                "errors answered to the bot:\n" + "\n".join(f"  {r}" for r in self.world.errors)
            )

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        received_at = self.world.wall_clock()
        name = request.match_info["method"]
        params = Params({}, {})
        status, body = 200, {}
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            canonical = self._methods.canonical(name)
            if canonical is None:
                raise ApiError(404, "Not Found")
            name = canonical
            params = await Params.from_request(request)
            result = await self._methods.handlers[canonical](params)
            if isinstance(result, Described):
                body = {"ok": True, "result": result.result, "description": result.description}
            else:
                body = {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.code, error.to_json()
        except Exception as exc:  # a bug in the fake: make it loud, in errors too
            _LOGGER.exception("fake Bot API failed on %s", name)
            status = 500
            body = ApiError(500, f"Internal Server Error: fake Bot API bug: {exc!r}").to_json()
        logged = dict(params.values)
        logged.update(
            {
                key: f"<file {filename!r}, {len(data)} bytes>"
                for key, (filename, data) in params.files.items()
            }
        )
        record = RequestRecord(name, logged, status, body, received_at)
        self.world.requests.append(record)
        for listener in self.world.listeners:
            listener(record)
        listening = request.transport is not None and not request.transport.is_closing()
        if status != 200 and listening:
            self.world.errors.append(record)
        return web.json_response(body, status=status)

    async def _file(self, request: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 404, "description": "Not Found"}
        return web.json_response(body, status=404)
