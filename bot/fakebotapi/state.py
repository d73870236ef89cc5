"""The fake's world: chats and their messages, the update queue, callback queries, the log.

Everything here is plain synchronous state mutated on the event loop that runs both the
HTTP server and the test; :class:`Signal` wakes whoever waits for a change (long polls,
``wait_for_message``) without fixed sleeps.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram.constants import UpdateType

from .entities import Entity
from .flood import FloodControl

T = TypeVar("T")

# Without allowed_updates, Telegram sends every type except these.
_OPT_IN_UPDATES = frozenset(
    {UpdateType.CHAT_MEMBER, UpdateType.MESSAGE_REACTION, UpdateType.MESSAGE_REACTION_COUNT}
)
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "copy_text",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
)


class Signal:
    """Broadcasts "something changed" to any number of waiters."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, check: Callable[[], T | None], seconds: float) -> T | None:
        """Re-evaluate ``check`` after every change until it returns a value or time runs out.

        Returns:
            The first non-None value of ``check()``, or None after ``seconds``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await self.wait(remaining)

    async def wait(self, seconds: float | None) -> None:
        """Return at the next change, or after ``seconds`` (None: no time limit)."""
        event = self._event
        # asyncio.timeout, not wait_for: on Python 3.11, wait_for can swallow a cancellation
        # that coincides with its time-out.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()


class Button(tuple[str, str | None]):
    """An inline button, equal to the tuple ``(text, value)``.

    ``value`` is the callback data, the URL, or the text a ``copy_text`` button copies
    (``None`` for ``pay``/``callback_game``); ``kind`` names the action field and ``raw`` is the
    button's JSON object.
    """

    kind: str
    raw: dict[str, Any]

    def __new__(cls, raw: dict[str, Any]) -> Button:
        kind = next(k for k in _BUTTON_ACTIONS if k in raw)
        action = raw[kind]
        if isinstance(action, dict):
            value = action.get("text") if kind == "copy_text" else action.get("url")
        else:
            value = action if isinstance(action, str) else None
        button = super().__new__(cls, (raw["text"], value))
        button.kind = kind
        button.raw = raw
        return button

    @property
    def text(self) -> str:
        """The label."""
        return self[0]

    @property
    def value(self) -> str | None:
        """Callback data, URL or text to copy."""
        return self[1]


@dataclass(eq=False)
class ChatMessage:
    """A message in a chat, as it currently stands (edits applied, deletion flagged).

    Attributes:
        html: The ``text`` parameter exactly as the bot sent it (None for users' messages).
        reply_markup: The inline keyboard, as Telegram returns it.
        reply_keyboard: A reply keyboard, ``remove_keyboard`` or ``force_reply`` sent along.
        content: Non-text content such as ``{"sticker": {...}}``.
        edited: How many times the message was edited.
    """

    chat: Chat
    message_id: int
    sender: dict[str, Any]
    date: int
    text: str = ""
    entities: list[Entity] = field(default_factory=list)
    html: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_keyboard: dict[str, Any] | None = None
    reply_to: ChatMessage | None = None
    content: dict[str, Any] = field(default_factory=dict)
    disable_notification: bool = False
    protect_content: bool = False
    link_preview_options: dict[str, Any] | None = None
    edited: int = 0
    edit_date: int | None = None
    deleted: bool = False

    @property
    def from_bot(self) -> bool:
        """Whether the bot sent this message."""
        return bool(self.sender.get("is_bot"))

    @property
    def buttons(self) -> list[list[Button]]:
        """The inline keyboard as rows of :class:`Button` (``(text, value)`` tuples)."""
        if not self.reply_markup:
            return []
        return [[Button(b) for b in row] for row in self.reply_markup["inline_keyboard"]]

    def button(self, text: str | None = None, *, data: str | None = None) -> Button:
        """The inline button labelled ``text`` (or with callback data ``data``).

        Raises:
            AssertionError: When there is no such button; the message names those there are.
        """
        for row in self.buttons:
            for button in row:
                if (text is None or button.text == text) and (
                    data is None or (button.kind == "callback_data" and button.value == data)
                ):
                    return button
        wanted = f"text={text!r}" if data is None else f"data={data!r}"
        raise AssertionError(
            f"no inline button with {wanted} in message #{self.message_id} "
            f"({self.text[:60]!r}); buttons: {self.buttons}"
        )

    def entity_texts(self, kind: str | None = None) -> list[str]:
        """The text each entity (of type ``kind``) covers, in order."""
        data = self.text.encode("utf-16-le")
        return [
            data[2 * e.offset : 2 * e.end].decode("utf-16-le")
            for e in self.entities
            if kind is None or e.type == kind
        ]

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        """The Bot API ``Message`` JSON object."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.protect_content:
            data["has_protected_content"] = True
        if self.content:  # media: the text is the caption
            data.update(self.content)
            if self.text:
                data["caption"] = self.text
        else:
            data["text"] = self.text
        if self.entities:
            key = "caption_entities" if self.content else "entities"
            data[key] = [e.to_api() for e in self.entities]
        if self.link_preview_options:
            data["link_preview_options"] = self.link_preview_options
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        return data

    def describe(self) -> str:
        """One transcript line."""
        who = "bot" if self.from_bot else self.sender.get("first_name", "?")
        body = self.text or next(iter(self.content), "")
        flags = []
        if self.buttons:
            flags.append(" | ".join(b.text for row in self.buttons for b in row))
        if self.edited:
            flags.append(f"edited {self.edited}x")
        if self.deleted:
            flags.append("deleted")
        suffix = f"  [{'; '.join(flags)}]" if flags else ""
        return f"#{self.message_id} {who}: {body!r}{suffix}"


@dataclass(eq=False)
class Chat:
    """A private chat or a group, with its transcript.

    Attributes:
        fields: Name fields of the ``Chat`` object (``first_name``… or ``title``).
        started: For private chats, whether the user ever wrote to the bot; until then the
            bot can't initiate the conversation.
        bot_is_admin: In groups, whether the bot may delete other members' messages.
        reply_keyboard: The reply keyboard the bot last showed (None once removed).
        actions: Every chat action (``typing``…) the bot sent, in order.
    """

    id: int
    type: str
    fields: dict[str, Any]
    started: bool = False
    bot_is_admin: bool = False
    reply_keyboard: dict[str, Any] | None = None
    transcript: list[ChatMessage] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def is_group(self) -> bool:
        """Groups and supergroups (stricter flood limits, no 'blocked' state)."""
        return self.type in ("group", "supergroup")

    @property
    def messages(self) -> list[ChatMessage]:
        """Both sides of the conversation in order, deleted messages included (flagged)."""
        return list(self.transcript)

    @property
    def title(self) -> str | None:
        """The group's title (None for private chats)."""
        return self.fields.get("title")

    def next_message_id(self) -> int:
        """Message ids are sequential per chat, shared by both sides."""
        return next(self._ids)

    def get(self, message_id: int) -> ChatMessage | None:
        """The message with that id, deleted or not."""
        return next((m for m in self.transcript if m.message_id == message_id), None)

    def to_api(self) -> dict[str, Any]:
        """The Bot API ``Chat`` JSON object."""
        return {"id": self.id, **self.fields, "type": self.type}

    def render(self) -> str:
        """A readable transcript for assertion messages."""
        name = self.fields.get("title") or self.fields.get("first_name")
        lines = [f"transcript of chat {self.id} ({self.type}, {name}):"]
        lines += [f"  {m.describe()}" for m in self.transcript] or ["  (empty)"]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """What the bot answered to a callback query (``answerCallbackQuery``)."""

    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(eq=False)
class PendingCallbackQuery:
    """A pressed inline button waiting for ``answerCallbackQuery``."""

    id: str
    message: ChatMessage
    data: str | None
    created: float
    answer: CallbackAnswer | None = None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One call the bot made and what it was answered.

    Attributes:
        received_at: When the request reached the fake (its ``wall_clock``, Unix seconds),
            before its body was read; for latency measurements.
    """

    method: str
    params: dict[str, str]
    status: int
    response: dict[str, Any]
    received_at: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return bool(self.response.get("ok"))

    @property
    def description(self) -> str | None:
        """The error description (None on success)."""
        return self.response.get("description")

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call."""
        return self.response.get("result")

    def __str__(self) -> str:
        params = json.dumps(self.params, ensure_ascii=False)
        outcome = "ok" if self.ok else f"{self.status} {self.description}"
        return f"{self.method} {params} -> {outcome}"


@dataclass(eq=False)
class PendingUpdate:
    """An update not yet confirmed (``getUpdates`` offset) or delivered (webhook).

    Attributes:
        update: The ``Update`` JSON object.
        key: The webhook delivery queue it belongs to (see :func:`webhook_queue_key`).
        created: When it was queued (the fake's monotonic clock), for the 24-hour expiry.
        attempts: Webhook deliveries that failed so far.
        due: Monotonic time before which the webhook does not retry it.
    """

    update: dict[str, Any]
    key: tuple[str, int]
    created: float
    attempts: int = 0
    due: float = 0.0

    @property
    def update_id(self) -> int:
        """The update's ``update_id``."""
        return int(self.update["update_id"])


def webhook_queue_key(kind: str, payload: dict[str, Any], update_id: int) -> tuple[str, int]:
    """The webhook queue an update waits in, as the Bot API server keys them.

    ``tdlib/telegram-bot-api`` delivers the updates of one queue one at a time, in order:
    messages and edits per chat, callback queries per user, ``my_chat_member`` per chat, each
    class in its own queue (so a user's message and button press may arrive concurrently).
    Other updates get a queue of their own.
    """
    if kind in (UpdateType.MESSAGE, UpdateType.EDITED_MESSAGE):
        return ("chat", int(payload["chat"]["id"]))
    if kind == UpdateType.CALLBACK_QUERY:
        return ("callback_query", int(payload["from"]["id"]))
    if kind == UpdateType.MY_CHAT_MEMBER:
        return ("my_chat_member", int(payload["chat"]["id"]))
    return ("update", update_id)


class UpdateQueue:
    """Updates waiting for ``getUpdates`` or webhook delivery, numbered, kept until
    confirmed by ``offset`` or delivered; also kept per webhook queue, in order."""

    def __init__(self, signal: Signal, clock: Callable[[], float]) -> None:
        self._signal = signal
        self._clock = clock
        self._pending: dict[int, PendingUpdate] = {}
        self._chains: dict[tuple[str, int], collections.deque[int]] = {}
        self._ids = itertools.count(1)
        self.allowed: frozenset[str] | None = None

    def accepts(self, kind: str) -> bool:
        """Whether an update of that type would reach the bot under its allowed_updates."""
        if self.allowed is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self.allowed

    def put(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update; returns it, or None when allowed_updates filters it out."""
        if not self.accepts(kind):
            return None
        update_id = next(self._ids)
        update = {"update_id": update_id, kind: payload}
        key = webhook_queue_key(kind, payload, update_id)
        self._pending[update_id] = PendingUpdate(update, key, self._clock())
        self._chains.setdefault(key, collections.deque()).append(update_id)
        self._signal.notify()
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last ``-offset``."""
        if offset > 0:
            doomed = list(itertools.takewhile(lambda i: i < offset, self._pending))
        elif offset < 0:
            doomed = list(self._pending)[:offset]
        else:
            return
        for update_id in doomed:
            self.remove(update_id)

    def peek(self, limit: int) -> list[dict[str, Any]]:
        """The oldest ``limit`` unconfirmed updates."""
        return [p.update for p in itertools.islice(self._pending.values(), limit)]

    def heads(self) -> list[PendingUpdate]:
        """The oldest pending update of each webhook queue."""
        return [self._pending[chain[0]] for chain in self._chains.values()]

    def remove(self, update_id: int) -> None:
        """Forget one update (confirmed, delivered or expired)."""
        pending = self._pending.pop(update_id, None)
        if pending is None:
            return
        chain = self._chains[pending.key]
        chain.remove(update_id)
        if not chain:
            del self._chains[pending.key]
        self._signal.notify()

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._pending

    def clear(self) -> None:
        """Drop everything pending (``drop_pending_updates``)."""
        self._pending.clear()
        self._chains.clear()
        self._signal.notify()

    def __len__(self) -> int:
        return len(self._pending)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """The webhook the bot set (``setWebhook``).

    Attributes:
        url: The URL as the bot gave it (what ``getWebhookInfo`` reports).
        endpoint: Where updates are POSTed (``url`` with ``https://`` when it had no scheme).
        secret_token: Sent back in ``X-Telegram-Bot-Api-Secret-Token`` ("" for none).
        max_connections: Deliveries in flight at most.
        ip_address: What ``getWebhookInfo`` reports as the resolved address.
    """

    url: str
    endpoint: str
    secret_token: str
    max_connections: int
    ip_address: str


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One attempt to deliver an update to the webhook.

    Attributes:
        update_id: The update's id.
        url: Where it was POSTed.
        status: The HTTP status answered (None when no answer came).
        error: What ``getWebhookInfo`` reports for a failure (None on success).
        attempt: 1 for the first attempt, 2 for the first retry…
        started: When the POST started (the fake's monotonic clock).
        finished: When its outcome was known.
    """

    update_id: int
    url: str
    status: int | None
    error: str | None
    attempt: int
    started: float
    finished: float

    @property
    def ok(self) -> bool:
        """Whether the webhook took the update (a 2xx answer)."""
        return self.error is None


@dataclass(eq=False)
class World:
    """All state the HTTP side and the test side share.

    Attributes:
        bot: The bot's ``User`` JSON object.
        clock: Monotonic seconds for flood control and callback-query expiry.
        wall_clock: Unix time for ``date`` fields and the 48-hour deletion rule.
        strict_entities: See :func:`.html.parse_html`.
        callback_timeout: Seconds after which a callback query can no longer be answered.
        requests: Every call the bot made, in order.
        errors: The calls answered with an error (the client still listening).
        listeners: Called with each new record, as it is logged (see ``FakeBotApi.subscribe``).
        closing: Set when the server stops, so that long polls return at once.
        webhook: The webhook set, None while the bot uses ``getUpdates``.
        webhook_error: ``(unix_date, message)`` of the last failed delivery.
        webhook_deliveries: Every delivery attempt, in the order their outcome was known.
        menu_buttons: ``MenuButton`` objects per chat id; key 0 is the default button.
        token: The bot's token (Mini App launch data is signed with it).
    """

    bot: dict[str, Any]
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    flood: FloodControl
    strict_entities: bool = True
    callback_timeout: float = 15.0
    signal: Signal = field(default_factory=Signal)
    chats: dict[int, Chat] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    deactivated: set[int] = field(default_factory=set)
    callback_queries: dict[str, PendingCallbackQuery] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    errors: list[RequestRecord] = field(default_factory=list)
    listeners: list[Callable[[RequestRecord], None]] = field(default_factory=list)
    closing: bool = False
    webhook: WebhookConfig | None = None
    webhook_error: tuple[int, str] | None = None
    webhook_deliveries: list[WebhookDelivery] = field(default_factory=list)
    menu_buttons: dict[int, dict[str, Any]] = field(default_factory=dict)
    token: str = ""
    updates: UpdateQueue = field(init=False)

    def __post_init__(self) -> None:
        self.updates = UpdateQueue(self.signal, self.clock)

    def now(self) -> int:
        """Unix seconds for ``date`` fields."""
        return int(self.wall_clock())

    def menu_button(self, chat_id: int | None) -> dict[str, Any]:
        """The menu button a private chat shows: its own, else the default, else commands."""
        default = self.menu_buttons.get(0, {"type": "commands"})
        return dict(default if chat_id is None else self.menu_buttons.get(chat_id, default))

    def add_message(self, chat: Chat, sender: dict[str, Any], **fields: Any) -> ChatMessage:
        """Append a new message to ``chat`` and wake waiters."""
        message = ChatMessage(
            chat=chat, message_id=chat.next_message_id(), sender=sender, date=self.now(), **fields
        )
        chat.transcript.append(message)
        self.signal.notify()
        return message
