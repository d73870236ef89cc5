"""The test-facing user actor: writes to the bot, presses buttons, waits for answers.

Every wait polls the fake's state with a deadline (woken by :class:`~.state.Signal` on each
change); on time-out it raises ``AssertionError`` with the chat transcript and the errors the
bot was answered, which is usually all one needs to see why a journey stalled.
"""

from __future__ import annotations

import base64
import itertools
import struct
from collections.abc import Callable
from typing import Any

from telegram.constants import UpdateType

from .entities import clean_text, finalize
from .state import CallbackAnswer, Chat, ChatMessage, PendingCallbackQuery, World
from .webapp import LIGHT_THEME, launch_url, sign_init_data

Predicate = Callable[[ChatMessage], bool]

_file_ids = itertools.count(1)
_query_ids = itertools.count(1)
_web_app_queries = itertools.count(1)
# WebAppUser fields, in the order Telegram serialises them.
_WEB_APP_USER_FIELDS = ("id", "first_name", "last_name", "username", "language_code", "is_premium")


class FakeUser:
    """A Telegram user talking to the bot; their private chat has ``chat.id == user.id``.

    Create it with :meth:`.FakeBotApi.user`.
    """

    def __init__(self, world: World, user_id: int, profile: dict[str, Any]) -> None:
        self._world = world
        self.id = user_id
        self.profile = {"id": user_id, "is_bot": False, **profile}
        self.chat = Chat(
            id=user_id,
            type="private",
            fields={k: profile[k] for k in ("first_name", "last_name", "username") if k in profile},
        )
        world.chats[user_id] = self.chat
        self._marks: dict[int, int] = {}  # chat id -> last message id when the user last acted
        self.key = ""
        """The jiema.my API key this person holds, once a test or a load generator gave them
        one (the fake never reads it: it is what the person would paste)."""

    @property
    def first_name(self) -> str:
        """The user's first name."""
        return self.profile["first_name"]

    @property
    def messages(self) -> list[ChatMessage]:
        """Transcript of the private chat: both sides, current state, deleted ones flagged."""
        return self.chat.messages

    @property
    def blocked(self) -> bool:
        """Whether the user has blocked the bot."""
        return self.id in self._world.blocked

    # -- acting ------------------------------------------------------------------------------

    async def send(
        self, text: str, *, chat: Chat | None = None, reply_to: ChatMessage | None = None
    ) -> ChatMessage:
        """Send a text message (a ``message`` update; commands get a ``bot_command`` entity).

        Args:
            text: What the user types, e.g. ``"/start"`` or ``"/start@jiema_test_bot"``.
            chat: A group made with :meth:`.FakeBotApi.group`; default the private chat.
            reply_to: A message in the same chat the user replies to.

        Returns:
            The user's message as stored in the transcript.
        """
        target = self._writable(chat)
        text, entities = finalize(clean_text(text), [])
        if not text:
            raise ValueError("Telegram clients do not send empty messages")
        message = self._world.add_message(
            target, self.profile, text=text, entities=entities, reply_to=reply_to
        )
        self._deliver(UpdateType.MESSAGE, target, message.to_api())
        return message

    async def send_sticker(self, *, chat: Chat | None = None, emoji: str = "👍") -> ChatMessage:
        """Send a sticker (a message without text)."""
        file_id = next(_file_ids)
        sticker = {
            "file_id": f"fake-sticker-{file_id}",
            "file_unique_id": f"fake-unique-{file_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._send_content(chat, {"sticker": sticker}, caption="")

    async def send_photo(self, *, chat: Chat | None = None, caption: str = "") -> ChatMessage:
        """Send a photo, optionally with a caption (available as the message's ``text``)."""
        file_id = next(_file_ids)
        sizes = [
            {
                "file_id": f"fake-photo-{file_id}-{side}",
                "file_unique_id": f"fake-unique-{file_id}-{side}",
                "width": side,
                "height": side,
                "file_size": side * 40,
            }
            for side in (90, 800)
        ]
        return self._send_content(chat, {"photo": sizes}, caption=caption)

    async def edit(self, message: ChatMessage, text: str) -> ChatMessage:
        """Edit one of the user's own text messages (an ``edited_message`` update)."""
        if message.sender.get("id") != self.id or message.content:
            raise AssertionError(f"{self.first_name} can only edit their own text messages")
        if message.deleted:
            raise AssertionError(f"message #{message.message_id} was deleted")
        self._writable(message.chat)
        message.text, message.entities = finalize(clean_text(text), [])
        message.edited += 1
        message.edit_date = self._world.now()
        self._world.signal.notify()
        self._deliver(UpdateType.EDITED_MESSAGE, message.chat, message.to_api())
        return message

    async def press(
        self,
        message: ChatMessage,
        text: str | None = None,
        *,
        data: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - the documented test-facing API
    ) -> CallbackAnswer:
        """Press an inline button and wait until the bot answers the callback query.

        Args:
            message: A bot message; its current keyboard is used.
            text: The button's label.
            data: Or: the button's callback data.
            timeout: Seconds to wait for ``answerCallbackQuery``.

        Returns:
            The answer (text, show_alert…), as the user's client would show it.

        Raises:
            AssertionError: No such callback button, or no answer in time (a spinner that
                keeps turning on a real client).
        """
        if message.deleted:
            raise AssertionError(f"message #{message.message_id} was deleted; nothing to press")
        button = message.button(text, data=data)
        if button.kind != "callback_data":
            raise AssertionError(
                f"button {button.text!r} is a {button.kind} button: pressing it sends the bot "
                "no callback query"
            )
        return await self._query(message, button.text, button.value, timeout)

    async def forge_press(
        self,
        message: ChatMessage,
        data: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the documented test-facing API
    ) -> CallbackAnswer:
        """Send a callback query with arbitrary ``data`` from ``message``, as a modified
        client or a replayed request can; the bot must treat it as hostile input."""
        return await self._query(message, "(forged)", data, timeout)

    def tap(self, message: ChatMessage, data: str | None) -> str:
        """Send a callback query with ``data`` from ``message`` without waiting for the
        answer (for load generators; ``data`` need not be one of the message's buttons).

        Returns:
            The callback query id, which the bot's ``answerCallbackQuery`` will carry.
        """
        return self._tap(message, data).id

    def _tap(self, message: ChatMessage, data: str | None) -> PendingCallbackQuery:
        chat = self._writable(message.chat)
        query = PendingCallbackQuery(
            id=str(4_000_000_000_000_000 + next(_query_ids)),
            message=message,
            data=data,
            created=self._world.clock(),
        )
        self._world.callback_queries[query.id] = query
        payload = {
            "id": query.id,
            "from": self.profile,
            "message": message.to_api(),
            "chat_instance": str(abs(chat.id) * 7919 + 104729),
            "data": data,
        }
        self._deliver(UpdateType.CALLBACK_QUERY, chat, payload)
        return query

    async def _query(
        self, message: ChatMessage, label: str, data: str | None, wait: float
    ) -> CallbackAnswer:
        query = self._tap(message, data)
        chat = message.chat
        answer = await self._world.signal.wait_until(lambda: query.answer, wait)
        if answer is None:
            raise AssertionError(
                f"the bot did not answer the callback query of button {label!r} within "
                f"{wait} s (the button's spinner keeps turning)\n{self._report(chat)}"
            )
        return answer

    def block(self) -> None:
        """Block the bot: sends now fail with 403; the bot gets a ``my_chat_member`` update."""
        self._world.blocked.add(self.id)
        self._member_update("member", "kicked")

    def unblock(self) -> None:
        """Unblock the bot (the client's "Restart"); the bot gets a ``my_chat_member`` update."""
        self._world.blocked.discard(self.id)
        self._member_update("kicked", "member")

    def deactivate(self) -> None:
        """Delete the account: sends fail with ``403 Forbidden: user is deactivated``."""
        self._world.deactivated.add(self.id)

    # -- Mini Apps ---------------------------------------------------------------------------

    def open_web_app(
        self,
        message: ChatMessage,
        button_text: str,
        *,
        theme: dict[str, str] = LIGHT_THEME,
        version: str = "8.0",
        platform: str = "tdesktop",
    ) -> str:
        """Press a ``web_app`` button of ``message`` (inline, or of the reply keyboard sent
        with it): the URL the client loads, with this user's signed launch data.

        Raises:
            AssertionError: No such button, or it opens no Mini App.
        """
        if message.chat is not self.chat:
            raise AssertionError(f"{self.first_name} opens Mini Apps from their private chat only")
        if message.deleted:
            raise AssertionError(f"message #{message.message_id} was deleted; nothing to press")
        inline = [b.raw for row in message.buttons for b in row if b.text == button_text]
        keyboard = [
            b
            for row in (message.reply_keyboard or {}).get("keyboard", [])
            for b in row
            if b.get("text") == button_text
        ]
        button = next(iter(inline + keyboard), None)
        if button is None:
            raise AssertionError(
                f"no button {button_text!r} in message #{message.message_id}; "
                f"inline buttons: {message.buttons}"
            )
        if "web_app" not in button:
            raise AssertionError(f"button {button_text!r} opens no Mini App: {button}")
        return self._launch(
            button["web_app"]["url"],
            with_query_id=bool(inline),
            theme=theme,
            version=version,
            platform=platform,
        )

    def open_menu_app(
        self,
        *,
        theme: dict[str, str] = LIGHT_THEME,
        version: str = "8.0",
        platform: str = "tdesktop",
    ) -> str:
        """Tap the private chat's menu button: the URL of its Mini App, with signed launch data.

        Raises:
            AssertionError: When the chat's menu button is not a ``web_app`` one.
        """
        button = self._world.menu_button(self.id)
        if button.get("type") != "web_app":
            raise AssertionError(f"{self.first_name}'s menu button opens no Mini App: {button}")
        return self._launch(
            button["web_app"]["url"],
            with_query_id=True,
            theme=theme,
            version=version,
            platform=platform,
        )

    def web_app_user(self) -> dict[str, Any]:
        """The ``WebAppUser`` object a Mini App launch carries for this user."""
        user = {k: self.profile[k] for k in _WEB_APP_USER_FIELDS if k in self.profile}
        user["allows_write_to_pm"] = True
        return user

    def _launch(
        self, url: str, *, with_query_id: bool, theme: dict[str, str], version: str, platform: str
    ) -> str:
        query_id = None
        if with_query_id:
            raw = struct.pack(">QQ", self.id, next(_web_app_queries))
            query_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        init_data = sign_init_data(
            self._world.token, self.web_app_user(), auth_date=self._world.now(), query_id=query_id
        )
        return launch_url(url, init_data, theme=theme, version=version, platform=platform)

    # -- waiting -----------------------------------------------------------------------------

    async def wait_for_message(
        self,
        predicate: Predicate | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - the documented test-facing API
        *,
        chat: Chat | None = None,
    ) -> ChatMessage:
        """The first bot message sent after the user's last action that matches ``predicate``.

        "Action" is a send, edit or button press by this user in that chat.  The predicate
        sees each message's current state (after edits; deleted ones too, flagged).

        Raises:
            AssertionError: With the transcript, when nothing matches within ``timeout``.
        """
        target = chat or self.chat
        mark = self._marks.get(target.id, 0)

        def first_match() -> ChatMessage | None:
            return next(
                (
                    m
                    for m in target.transcript
                    if m.message_id > mark and m.from_bot and (predicate is None or predicate(m))
                ),
                None,
            )

        found = await self._world.signal.wait_until(first_match, timeout)
        if found is None:
            raise AssertionError(
                f"no new bot message{' matching the predicate' if predicate else ''} within "
                f"{timeout} s after {self.first_name}'s last action\n{self._report(target)}"
            )
        return found

    async def wait_for(
        self,
        predicate: Predicate,
        timeout: float = 10.0,  # noqa: ASYNC109 - the documented test-facing API
        *,
        chat: Chat | None = None,
    ) -> ChatMessage:
        """Any bot message in the chat (current state, edits included) matching ``predicate``.

        Raises:
            AssertionError: With the transcript, when nothing matches within ``timeout``.
        """
        target = chat or self.chat

        def first_match() -> ChatMessage | None:
            return next((m for m in target.transcript if m.from_bot and predicate(m)), None)

        found = await self._world.signal.wait_until(first_match, timeout)
        if found is None:
            raise AssertionError(
                f"no bot message matching the predicate within {timeout} s\n{self._report(target)}"
            )
        return found

    # -- internals ---------------------------------------------------------------------------

    def _writable(self, chat: Chat | None) -> Chat:
        target = chat or self.chat
        if self.blocked and target is self.chat:
            raise AssertionError(f"{self.first_name} blocked the bot; call unblock() first")
        if not target.is_group and target is not self.chat:
            raise AssertionError(f"{self.first_name} can't write in another user's private chat")
        return target

    def _send_content(
        self, chat: Chat | None, content: dict[str, Any], *, caption: str
    ) -> ChatMessage:
        target = self._writable(chat)
        text, entities = finalize(clean_text(caption), [])
        message = self._world.add_message(
            target, self.profile, text=text, entities=entities, content=content
        )
        self._deliver(UpdateType.MESSAGE, target, message.to_api())
        return message

    def _deliver(self, kind: str, chat: Chat, payload: dict[str, Any]) -> None:
        """Queue an update and remember where the user's last action left the chat."""
        if chat.type == "private":
            chat.started = True
        self._marks[chat.id] = chat.transcript[-1].message_id if chat.transcript else 0
        if self._world.updates.put(kind, payload) is None:
            raise AssertionError(
                f"the bot does not receive {kind} updates "
                f"(allowed_updates={sorted(self._world.updates.allowed or ())})"
            )

    def _member_update(self, old: str, new: str) -> None:
        bot = self._world.bot
        new_member: dict[str, Any] = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"status": old, "user": bot}
        if old == "kicked":
            old_member["until_date"] = 0
        self._world.updates.put(
            UpdateType.MY_CHAT_MEMBER,
            {
                "chat": self.chat.to_api(),
                "from": self.profile,
                "date": self._world.now(),
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            },
        )

    def _report(self, chat: Chat) -> str:
        report = chat.render()
        if self._world.errors:
            report += "\nerrors answered to the bot:\n" + "\n".join(
                f"  {record}" for record in self._world.errors
            )
        return report
