"""Webhooks in the fake Bot API: setWebhook rules, delivery order and concurrency, retries,
and python-telegram-bot applications behind a load balancer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.fakebotapi import FakeBotApi, ManualClock, application_builder
from bot.fakebotapi.state import Signal
from tests.e2e.balancer import Balancer

TOKEN = "123456:TEST"
SECRET = "s3cr3t_Token-1"
WRONG_RESPONSE_500 = "Wrong response from the webhook: 500 Internal Server Error"

Answer = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]


async def accept(update: dict[str, Any]) -> web.StreamResponse:
    return web.Response(text="ok")


@dataclass
class Receiver:
    """A webhook endpoint on loopback that records what it gets; ``answer`` decides the reply."""

    answer: Answer = accept
    updates: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[str | None] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    forwarded_for: list[str | None] = field(default_factory=list)
    in_flight: dict[int, int] = field(default_factory=dict)  # chat id -> deliveries now
    max_in_flight_per_chat: int = 0
    max_in_flight: int = 0
    url: str = ""
    changed: Signal = field(default_factory=Signal)
    _runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, bound = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{bound}/hook"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        update = await request.json()
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        self.authorizations.append(request.headers.get("Authorization"))
        self.forwarded_for.append(request.headers.get("X-Forwarded-For"))
        chat = _chat_of(update)
        self.in_flight[chat] = self.in_flight.get(chat, 0) + 1
        self.max_in_flight_per_chat = max(self.max_in_flight_per_chat, self.in_flight[chat])
        self.max_in_flight = max(self.max_in_flight, sum(self.in_flight.values()))
        self.changed.notify()
        try:
            response = await self.answer(update)
        finally:
            self.in_flight[chat] -= 1
        if 200 <= response.status < 300:
            self.updates.append(update)
        self.changed.notify()
        return response

    def texts(self, chat_id: int) -> list[str]:
        return [u["message"]["text"] for u in self.updates if _chat_of(u) == chat_id]


def _chat_of(update: dict[str, Any]) -> int:
    if "message" in update:
        return int(update["message"]["chat"]["id"])
    if "callback_query" in update:
        return int(update["callback_query"]["from"]["id"])
    return 0


class BotClient:
    def __init__(self, server: FakeBotApi, http: httpx.AsyncClient) -> None:
        self.server = server
        self.http = http

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        response = await self.http.post(f"{self.server.root}/bot{TOKEN}/{method}", json=params)
        body: dict[str, Any] = response.json()
        assert response.status_code == body.get("error_code", 200), body
        return body

    async def ok(self, method: str, **params: Any) -> Any:
        body = await self.call(method, **params)
        assert body["ok"], body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        body = await self.call(method, **params)
        assert not body["ok"], body
        return body["error_code"], body["description"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def server(clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN, clock=clock) as fake:
        yield fake


@pytest.fixture
async def live_server() -> AsyncIterator[FakeBotApi]:
    """On the real monotonic clock, with short retry delays."""
    async with FakeBotApi(token=TOKEN, flood=None, webhook_retry_delays=(0.1, 0.3)) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[BotClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield BotClient(server, http)


@pytest.fixture
async def live_bot(live_server: FakeBotApi) -> AsyncIterator[BotClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield BotClient(live_server, http)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.stop()


# -- setWebhook, deleteWebhook, getWebhookInfo ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("ftp://example.com/hook", "Bad Request: invalid webhook URL specified"),
        ("https://:443/hook", "Bad Request: invalid webhook URL specified"),
        ("https://example.com:port/hook", "Bad Request: invalid webhook URL specified"),
        (
            "http://example.com/hook",
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            "https://example.com:8080/hook",
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
        (
            "example.com:8443/hook",  # no scheme: https, as Telegram assumes
            "Bad Request: bad webhook: the fake Bot API delivers updates to loopback hosts only "
            "[fake Bot API strictness]",
        ),
    ],
)
async def test_set_webhook_refuses_urls_as_telegram(
    bot: BotClient, url: str, description: str
) -> None:
    assert await bot.error("setWebhook", url=url) == (400, description)


@pytest.mark.parametrize(
    ("secret", "description"),
    [
        ("x" * 257, "Bad Request: secret token is too long"),
        ("has space", "Bad Request: secret token contains unallowed characters"),
        ("dot.ted", "Bad Request: secret token contains unallowed characters"),
    ],
)
async def test_set_webhook_checks_the_secret_token(
    bot: BotClient, receiver: Receiver, secret: str, description: str
) -> None:
    assert await bot.error("setWebhook", url=receiver.url, secret_token=secret) == (
        400,
        description,
    )


async def test_webhook_info_descriptions_and_limits(
    bot: BotClient, server: FakeBotApi, receiver: Receiver, clock: ManualClock
) -> None:
    assert await bot.ok("getWebhookInfo") == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    body = await bot.call("setWebhook", url=receiver.url, secret_token="x" * 256)
    assert body == {"ok": True, "result": True, "description": "Webhook was set"}
    info = await bot.ok("getWebhookInfo")
    assert info == {
        "url": receiver.url,
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 40,
        "ip_address": "127.0.0.1",
    }
    # A second setWebhook within a second is refused, even an identical one.
    assert await bot.error("setWebhook", url=receiver.url) == (
        429,
        "Too Many Requests: retry after 1",
    )
    clock.advance(1)
    body = await bot.call("setWebhook", url=receiver.url, secret_token="x" * 256)
    assert body["description"] == "Webhook is already set"
    clock.advance(1)
    await bot.ok("setWebhook", url=receiver.url, max_connections=0, allowed_updates=["message"])
    info = await bot.ok("getWebhookInfo")
    assert (info["max_connections"], info["allowed_updates"]) == (1, ["message"])
    clock.advance(1)
    await bot.ok("setWebhook", url=receiver.url, max_connections=1000, allowed_updates=[])
    info = await bot.ok("getWebhookInfo")
    assert info["max_connections"] == 100
    assert "allowed_updates" not in info  # the default again
    assert (await bot.call("deleteWebhook"))["description"] == "Webhook was deleted"
    assert (await bot.call("deleteWebhook"))["description"] == "Webhook is already deleted"
    assert server.webhook is None


async def test_a_refused_url_removes_the_webhook_that_was_set(
    bot: BotClient, receiver: Receiver, clock: ManualClock
) -> None:
    await bot.ok("setWebhook", url=receiver.url)
    clock.advance(1)
    await bot.error("setWebhook", url="https://example.com:1234/")
    assert (await bot.ok("getWebhookInfo"))["url"] == ""


async def test_get_updates_conflicts_with_a_webhook(
    bot: BotClient, server: FakeBotApi, receiver: Receiver
) -> None:
    poll = asyncio.create_task(bot.call("getUpdates", timeout=5))
    await server.wait_for_poll()
    await bot.ok("setWebhook", url=receiver.url)
    assert await poll == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by setWebhook request",
    }
    assert await bot.error("getUpdates") == (
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )
    await bot.ok("deleteWebhook")
    assert await bot.ok("getUpdates") == []


async def test_drop_pending_updates(bot: BotClient, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    await alice.send("one")
    await alice.send("two")
    assert (await bot.ok("getWebhookInfo"))["pending_update_count"] == 2
    await bot.ok("deleteWebhook", drop_pending_updates=True)
    assert server.pending_updates == 0


# -- delivery ---------------------------------------------------------------------------------


async def test_updates_arrive_one_per_post_with_the_secret(
    live_bot: BotClient, live_server: FakeBotApi, receiver: Receiver
) -> None:
    await live_bot.ok("setWebhook", url=receiver.url, secret_token=SECRET)
    alice = live_server.user(1001, first_name="Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    await live_server.wait_webhook_idle()
    assert receiver.texts(alice.id) == ["one", "two", "three"]
    assert receiver.secrets == [SECRET] * 3
    assert [u["update_id"] for u in receiver.updates] == [1, 2, 3]
    assert [
        (d.update_id, d.status, d.error, d.attempt) for d in live_server.webhook_deliveries
    ] == [
        (1, 200, None, 1),
        (2, 200, None, 1),
        (3, 200, None, 1),
    ]
    assert (await live_bot.ok("getWebhookInfo"))["pending_update_count"] == 0


async def test_credentials_in_the_url_become_basic_auth(
    live_bot: BotClient, live_server: FakeBotApi, receiver: Receiver
) -> None:
    url = receiver.url.replace("http://", "http://bot:pa55@")
    await live_bot.ok("setWebhook", url=url)
    assert (await live_bot.ok("getWebhookInfo"))["url"] == url  # as given
    await live_server.user(1001, first_name="Alice").send("hi")
    await live_server.wait_webhook_idle()
    assert receiver.authorizations == ["Basic Ym90OnBhNTU="]  # base64("bot:pa55")
    assert receiver.secrets == [None]


async def test_one_chat_at_a_time_in_order_within_max_connections(
    live_bot: BotClient, live_server: FakeBotApi, receiver: Receiver
) -> None:
    gate = asyncio.Event()

    async def held(update: dict[str, Any]) -> web.StreamResponse:
        await gate.wait()
        return web.Response()

    receiver.answer = held
    await live_bot.ok("setWebhook", url=receiver.url, max_connections=2)
    users = [live_server.user(1000 + n, first_name=f"User{n}") for n in range(3)]
    for round_ in range(3):
        for user in users:
            await user.send(f"{user.first_name} {round_}")

    def two_in_flight() -> bool | None:
        return sum(receiver.in_flight.values()) == 2 or None

    assert await receiver.changed.wait_until(two_in_flight, 5)
    gate.set()
    await live_server.wait_webhook_idle()
    assert receiver.max_in_flight_per_chat == 1
    assert receiver.max_in_flight == 2
    for user in users:
        assert receiver.texts(user.id) == [f"{user.first_name} {n}" for n in range(3)]


async def test_failures_are_retried_later_and_reported(
    live_bot: BotClient, live_server: FakeBotApi, receiver: Receiver
) -> None:
    failures = {"left": 2}

    async def flaky(update: dict[str, Any]) -> web.StreamResponse:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        return web.Response()

    receiver.answer = flaky
    await live_bot.ok("setWebhook", url=receiver.url)
    alice = live_server.user(1001, first_name="Alice")
    await alice.send("hello")
    await live_server.wait_webhook_idle()
    attempts = live_server.webhook_deliveries
    assert [(d.attempt, d.status, d.error) for d in attempts] == [
        (1, 500, WRONG_RESPONSE_500),
        (2, 500, WRONG_RESPONSE_500),
        (3, 200, None),
    ]
    # Growing delays: 0.1 s after the first failure, 0.3 s after the second.
    assert attempts[1].started - attempts[0].finished >= 0.1
    assert attempts[2].started - attempts[1].finished >= 0.3
    assert receiver.texts(alice.id) == ["hello"]
    info = await live_bot.ok("getWebhookInfo")
    assert info["last_error_message"] == WRONG_RESPONSE_500
    assert isinstance(info["last_error_date"], int)
    assert info["pending_update_count"] == 0


async def test_retry_after_header_and_the_24_hour_expiry(receiver: Receiver) -> None:
    clock = ManualClock()
    answers = [web.Response(status=503, headers={"Retry-After": "30"})]

    async def busy_then_broken(update: dict[str, Any]) -> web.StreamResponse:
        return answers.pop(0) if answers else web.Response(status=500)

    receiver.answer = busy_then_broken
    async with FakeBotApi(token=TOKEN, clock=clock, webhook_retry_delays=(5.0,)) as server:
        async with httpx.AsyncClient() as http:
            await BotClient(server, http).ok("setWebhook", url=receiver.url)
        await server.user(1001, first_name="Alice").send("hello")
        world = server.world

        def attempts(n: int) -> Callable[[], bool | None]:
            return lambda: len(world.webhook_deliveries) >= n or None

        assert await world.signal.wait_until(attempts(1), 5)
        (head,) = world.updates.heads()
        assert head.due == clock.now + 30  # Retry-After, not the configured 5 s
        clock.advance(30)
        assert await world.signal.wait_until(attempts(2), 5)
        assert head.due == clock.now + 5
        clock.advance(24 * 3600)  # the next failure would retry after its 24 hours
        assert await world.signal.wait_until(attempts(3), 5)
        assert server.pending_updates == 0  # dropped
        assert [d.status for d in world.webhook_deliveries] == [503, 500, 500]


async def test_a_failing_head_holds_back_its_chat_only(
    live_bot: BotClient, live_server: FakeBotApi, receiver: Receiver
) -> None:
    alice = live_server.user(1001, first_name="Alice")
    bob = live_server.user(1002, first_name="Bob")
    failing = {"left": 1}

    async def alice_fails_once(update: dict[str, Any]) -> web.StreamResponse:
        if _chat_of(update) == alice.id and failing["left"]:
            failing["left"] -= 1
            return web.Response(status=500)
        return web.Response()

    receiver.answer = alice_fails_once
    await live_bot.ok("setWebhook", url=receiver.url)
    await alice.send("a1")
    await alice.send("a2")
    await bob.send("b1")
    await live_server.wait_webhook_idle()
    order = [u["message"]["text"] for u in receiver.updates]
    assert order.index("b1") < order.index("a1") < order.index("a2")


async def test_refused_connections_and_timeouts() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with (
        FakeBotApi(token=TOKEN, webhook_retry_delays=(0.1,), webhook_timeout=0.3) as live_server,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await _refused_then_timed_out(BotClient(live_server, http), live_server, port)


async def _refused_then_timed_out(live_bot: BotClient, live_server: FakeBotApi, port: int) -> None:
    await live_bot.ok("setWebhook", url=f"http://127.0.0.1:{port}/hook")
    alice = live_server.user(1001, first_name="Alice")
    await alice.send("are you there?")

    def reported(message: str) -> Callable[[], bool | None]:
        def check() -> bool | None:
            error = live_server.world.webhook_error
            return (error is not None and error[1] == message) or None

        return check

    assert await live_server.world.signal.wait_until(reported("Connection refused"), 5)
    assert (await live_bot.ok("getWebhookInfo"))["pending_update_count"] == 1

    stuck = asyncio.Event()

    async def hang(update: dict[str, Any]) -> web.StreamResponse:
        await stuck.wait()
        return web.Response()

    late = Receiver(answer=hang)
    await late.start(port)  # now something listens, but never answers in time
    try:
        assert await live_server.world.signal.wait_until(reported("Read timeout expired"), 5)
        late.answer = accept
        await live_server.wait_webhook_idle()
    finally:
        stuck.set()
        await late.stop()
    # Timed-out attempts the receiver finishes anyway are duplicates of the retried update:
    # on Telegram as here, a webhook bot must tell updates apart by update_id.
    assert {u["update_id"] for u in late.updates} == {1}
    assert [d.ok for d in live_server.webhook_deliveries].count(True) == 1


async def test_allowed_updates_filter_what_is_queued(
    live_bot: BotClient, live_server: FakeBotApi, receiver: Receiver
) -> None:
    alice = live_server.user(1001, first_name="Alice")
    await live_bot.ok("setWebhook", url=receiver.url, allowed_updates=["callback_query"])
    with pytest.raises(AssertionError, match="does not receive message updates"):
        await alice.send("ignored")
    assert live_server.pending_updates == 0


# -- the balancer -----------------------------------------------------------------------------


async def test_balancer_round_robin_and_skipping_a_dead_target(
    live_bot: BotClient, live_server: FakeBotApi
) -> None:
    replicas = [Receiver(), Receiver()]
    for replica in replicas:
        await replica.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    targets = [r.url.removesuffix("/hook") for r in replicas]
    try:
        async with Balancer([targets[0], dead, targets[1]]) as balancer:
            await live_bot.ok(
                "setWebhook", url=f"{balancer.url}/hook?replica=any", secret_token=SECRET
            )
            users = [live_server.user(2000 + n, first_name=f"U{n}") for n in range(6)]
            for user in users:
                await user.send("hi")
            await live_server.wait_webhook_idle()
            assert balancer.hits(targets[0]) + balancer.hits(targets[1]) == 6
            assert balancer.hits(targets[0]) >= 2
            assert balancer.hits(targets[1]) >= 2
            assert balancer.hits(dead) == 0
            assert any(dead in r.skipped for r in balancer.routed)
            assert {r.path_qs for r in balancer.routed} == {"/hook?replica=any"}
            assert all(s == SECRET for r in replicas for s in r.secrets)
            assert {f for r in replicas for f in r.forwarded_for} == {"127.0.0.1"}
    finally:
        for replica in replicas:
            await replica.stop()


async def test_balancer_with_every_target_down_answers_502(
    live_bot: BotClient, live_server: FakeBotApi
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    async with Balancer([dead]) as balancer:
        await live_bot.ok("setWebhook", url=f"{balancer.url}/hook")
        await live_server.user(1001, first_name="Alice").send("hello")

        def failed() -> bool | None:
            return bool(live_server.webhook_deliveries) or None

        assert await live_server.world.signal.wait_until(failed, 5)
    first = live_server.webhook_deliveries[0]
    assert (first.status, first.error) == (502, "Wrong response from the webhook: 502 Bad Gateway")


# -- python-telegram-bot in webhook mode ------------------------------------------------------


class Replica:
    """One bot process: a PTB Application fed by its own webhook receiver (no Updater)."""

    def __init__(self, server: FakeBotApi, name: str) -> None:
        self.name = name
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            application_builder(server).updater(None).build()
        )
        self.app.add_handler(MessageHandler(filters.TEXT, self._echo))
        self.app.add_handler(CallbackQueryHandler(self._pressed))
        self.handled: list[int] = []
        self.receiver = Receiver(answer=self._process)

    async def start(self) -> str:
        await self.app.initialize()
        await self.app.start()
        return (await self.receiver.start()).removesuffix("/hook")

    async def stop(self) -> None:
        await self.receiver.stop()
        await self.app.stop()
        await self.app.shutdown()

    async def _process(self, data: dict[str, Any]) -> web.StreamResponse:
        # Answer only once the update is handled: a 2xx for an update then lost loses it.
        await self.app.process_update(Update.de_json(data, self.app.bot))
        return web.Response()

    async def _echo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        assert update.effective_message.text
        self.handled.append(update.update_id)
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])
        await update.effective_message.reply_text(
            f"{self.name}: {update.effective_message.text}", reply_markup=keyboard
        )

    async def _pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        self.handled.append(update.update_id)
        await update.callback_query.answer(f"pressed on {self.name}")


@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
async def test_ptb_application_in_webhook_mode(live_server: FakeBotApi) -> None:
    replica = Replica(live_server, "A")
    root = await replica.start()
    try:
        bot = replica.app.bot
        waiting = asyncio.create_task(live_server.wait_for_webhook())
        assert await bot.set_webhook(f"{root}/hook", secret_token=SECRET, max_connections=5)
        assert (await waiting).secret_token == SECRET
        with pytest.raises(RetryAfter):  # Telegram takes one setWebhook a second
            await bot.set_webhook(f"{root}/hook", secret_token=SECRET)
        live_server.errors.clear()
        info = await bot.get_webhook_info()
        assert (info.url, info.max_connections) == (f"{root}/hook", 5)
        alice = live_server.user(1001, first_name="Alice")
        await alice.send("ping")
        echo = await alice.wait_for_message(lambda m: m.text == "A: ping")
        answer = await alice.press(echo, "Again")
        assert answer.text == "pressed on A"
        await live_server.wait_webhook_idle()
        assert len(replica.handled) == 2
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        await replica.stop()
    live_server.assert_no_errors()


async def test_two_replicas_behind_a_balancer_survive_one_going_down(
    live_server: FakeBotApi,
) -> None:
    replicas = [Replica(live_server, "A"), Replica(live_server, "B")]
    roots = [await r.start() for r in replicas]
    try:
        async with Balancer(roots) as balancer:
            assert await replicas[0].app.bot.set_webhook(f"{balancer.url}/hook")
            users = [live_server.user(3000 + n, first_name=f"U{n}") for n in range(4)]
            for user in users:
                await user.send("first")
            for user in users:
                await user.wait_for_message(lambda m: m.text.endswith(": first"))
            assert all(r.handled for r in replicas)

            await replicas[1].receiver.stop()  # B goes away; the balancer skips it
            for user in users:
                await user.send("second")
            for user in users:
                reply = await user.wait_for_message(lambda m: m.text.endswith(": second"))
                assert reply.text == "A: second"
            await live_server.wait_webhook_idle()
            assert all(r.status == 200 for r in balancer.routed)
    finally:
        for replica in replicas:
            await replica.stop()
    live_server.assert_no_errors()
