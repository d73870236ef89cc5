"""The Bot API methods the fake implements, with Telegram's validation and descriptions.

Checks run in the order the real service applies them: what the Bot API server and TDLib
check locally (chat lookup, text parsing, markup) comes first, then what Telegram's servers
decide (flood control, blocked users, "message is not modified").
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram.constants import (
    BotCommandLimit,
    BotCommandScopeType,
    BotDescriptionLimit,
    BotNameLimit,
    CallbackQueryLimit,
    ChatAction,
    MenuButtonType,
    MessageLimit,
    PollingLimit,
)

from . import errors
from .entities import Entity, clean_text, entities_from_api, finalize
from .errors import ApiError, bad_request, forbidden
from .html import HtmlParseError, parse_html, web_app_url_ok
from .markup import has_web_app_button, parse_reply_markup
from .params import Params
from .state import CallbackAnswer, Chat, ChatMessage, WebhookConfig, World
from .webhook import WebhookSender, parse_webhook_url, verify_webhook_url

Handler = Callable[[Params], Awaitable[Any]]

_COMMAND = re.compile(rf"[a-z0-9_]{{{BotCommandLimit.MIN_COMMAND},{BotCommandLimit.MAX_COMMAND}}}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_CHAT_ID = re.compile(r"-?\d+")
_DELETE_WINDOW = 48 * 3600
_CHAT_ACTIONS = frozenset(ChatAction) | {"record_audio", "upload_audio"}
_SCOPES_WITH_CHAT = (BotCommandScopeType.CHAT, BotCommandScopeType.CHAT_ADMINISTRATORS)
_DEFAULT_SCOPE = json.dumps({"type": BotCommandScopeType.DEFAULT})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]*")
_MAX_SECRET_TOKEN = 256
_DEFAULT_MAX_CONNECTIONS = 40
_MAX_CONNECTIONS = 100
# Not published; a label longer than this does not fit a phone's input bar.
_MAX_MENU_BUTTON_TEXT = 64
_MENU_BUTTON = "Bad Request: can't parse menu button: "


@dataclass(frozen=True, slots=True)
class Described:
    """A successful answer that also carries a ``description`` (``"Webhook was set"``)."""

    result: Any
    description: str


class Methods:
    """Implements each Bot API method on a :class:`~.state.World`.

    Attributes:
        handlers: Canonical method name (``sendMessage``) to its coroutine.
        waiting_polls: ``getUpdates`` calls currently waiting for updates.
    """

    def __init__(self, world: World, webhook: WebhookSender) -> None:
        self.world = world
        self._webhook = webhook
        self._polls = 0
        self._poll_ended_by = errors.GET_UPDATES_CONFLICT
        self._next_set_webhook = float("-inf")
        self.waiting_polls = 0
        self.handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.close,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "setMyName": self._bot_text_setter("name", BotNameLimit.MAX_NAME_LENGTH),
            "getMyName": self._bot_text_getter("name"),
            "setMyDescription": self._bot_text_setter(
                "description", BotDescriptionLimit.MAX_DESCRIPTION_LENGTH
            ),
            "getMyDescription": self._bot_text_getter("description"),
            "setMyShortDescription": self._bot_text_setter(
                "short_description", BotDescriptionLimit.MAX_SHORT_DESCRIPTION_LENGTH
            ),
            "getMyShortDescription": self._bot_text_getter("short_description"),
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
        }
        self._lowercase = {name.lower(): name for name in self.handlers}

    def canonical(self, method: str) -> str | None:
        """Method names are case-insensitive on the real server; None for unknown ones."""
        return self._lowercase.get(method.lower())

    # -- bot and session ---------------------------------------------------------------------

    async def get_me(self, params: Params) -> dict[str, Any]:
        """``getMe``."""
        return {
            **self.world.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def log_out(self, params: Params) -> bool:
        """``logOut``: accepted and recorded; the fake keeps serving."""
        return True

    async def close(self, params: Params) -> bool:
        """``close``: accepted and recorded; the fake keeps serving."""
        return True

    # -- updates -----------------------------------------------------------------------------

    async def get_updates(self, params: Params) -> list[dict[str, Any]]:
        """``getUpdates`` with real long polling.

        A newer ``getUpdates`` ends a waiting one with ``409 Conflict``, as on Telegram, and
        so does a ``setWebhook``; while a webhook is set, ``getUpdates`` is refused.
        """
        if self.world.webhook is not None:
            raise ApiError(409, errors.GET_UPDATES_WHILE_WEBHOOK)
        updates = self.world.updates
        offset = params.integer("offset")
        limit = min(
            max(params.integer("limit", PollingLimit.MAX_LIMIT), PollingLimit.MIN_LIMIT),
            PollingLimit.MAX_LIMIT,
        )
        timeout = max(params.integer("timeout"), 0)
        self._update_allowed_updates(params)
        updates.confirm(offset)

        self._end_polls(errors.GET_UPDATES_CONFLICT)
        generation = self._polls

        def ready() -> list[dict[str, Any]] | None:
            if generation != self._polls:
                raise ApiError(409, self._poll_ended_by)
            if self.world.closing:
                return []
            return updates.peek(limit) or None

        self.waiting_polls += 1
        self.world.signal.notify()  # wakes wait_for_poll
        try:
            return await self.world.signal.wait_until(ready, timeout) or []
        finally:
            self.waiting_polls -= 1

    def _end_polls(self, reason: str) -> None:
        """End any waiting long poll with ``409 Conflict: {reason}``."""
        self._poll_ended_by = reason
        self._polls += 1
        self.world.signal.notify()

    def _update_allowed_updates(self, params: Params) -> None:
        """``allowed_updates`` of getUpdates/setWebhook: absent keeps the previous setting,
        an empty list restores the default."""
        allowed = params.json(
            "allowed_updates", "Bad Request: can't parse allowed updates JSON object"
        )
        if isinstance(allowed, list):
            self.world.updates.allowed = frozenset(str(kind) for kind in allowed) or None

    async def set_webhook(self, params: Params) -> Described:
        """``setWebhook``, in the order the Bot API server checks and applies it.

        At most one ``setWebhook`` with a URL per second (429 otherwise); an unchanged
        webhook is "already set"; otherwise long polls end, the old webhook is removed, and
        only then is the new URL validated, so a refused URL leaves no webhook at all.
        """
        url = params.string("url")
        if not url:
            return self._remove_webhook(params)
        now = self.world.clock()
        if now < self._next_set_webhook:
            raise errors.too_many_requests(1)
        self._next_set_webhook = now + 1
        secret = params.string("secret_token")
        max_connections = min(
            max(params.integer("max_connections", _DEFAULT_MAX_CONNECTIONS), 1),
            _MAX_CONNECTIONS,
        )
        current = self.world.webhook
        drop = params.boolean("drop_pending_updates")
        if (
            current is not None
            and not drop
            and (current.url, current.secret_token, current.max_connections)
            == (url, secret, max_connections)
        ):
            self._update_allowed_updates(params)
            return Described(True, "Webhook is already set")
        self._end_polls(errors.TERMINATED_BY_SET_WEBHOOK)
        self._close_webhook()
        if drop:
            self.world.updates.clear()
        target = parse_webhook_url(url)
        if len(secret) > _MAX_SECRET_TOKEN:
            raise bad_request(errors.SECRET_TOO_LONG)
        if not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request(errors.SECRET_UNALLOWED_CHARACTERS)
        self._update_allowed_updates(params)
        ip_address = verify_webhook_url(target)
        self.world.webhook = WebhookConfig(
            url=url,
            endpoint=target,
            secret_token=secret,
            max_connections=max_connections,
            ip_address=ip_address,
        )
        self._webhook.start()
        self.world.signal.notify()
        return Described(True, "Webhook was set")

    async def delete_webhook(self, params: Params) -> Described:
        """``deleteWebhook``; may drop pending updates."""
        return self._remove_webhook(params)

    def _remove_webhook(self, params: Params) -> Described:
        was_set = self.world.webhook is not None
        if params.boolean("drop_pending_updates"):
            self.world.updates.clear()
        elif not was_set:
            return Described(True, "Webhook is already deleted")
        self._close_webhook()
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _close_webhook(self) -> None:
        self.world.webhook = None
        self.world.webhook_error = None
        self.world.signal.notify()

    async def get_webhook_info(self, params: Params) -> dict[str, Any]:
        """``getWebhookInfo``, with the fields the Bot API server includes when they apply."""
        webhook = self.world.webhook
        info: dict[str, Any] = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.updates),
        }
        if self.world.webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self.world.webhook_error
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            info["ip_address"] = webhook.ip_address
        if self.world.updates.allowed is not None:
            info["allowed_updates"] = sorted(self.world.updates.allowed)
        return info

    # -- commands, menu, profile ---------------------------------------------------------------

    async def set_my_commands(self, params: Params) -> bool:
        """``setMyCommands`` with Telegram's command and description rules."""
        commands = params.json("commands", "Bad Request: can't parse commands JSON object")
        if commands is None:
            raise bad_request('Bad Request: parameter "commands" is required')
        if not isinstance(commands, list):
            raise bad_request("Bad Request: expected an Array of BotCommand")
        if len(commands) > BotCommandLimit.MAX_COMMAND_NUMBER:
            raise bad_request(errors.BOT_COMMANDS_TOO_MUCH)
        stored = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("Bad Request: can't parse BotCommand: expected an Object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND.fullmatch(name):
                raise bad_request(errors.BOT_COMMAND_INVALID)
            if (
                not isinstance(description, str)
                or not description.strip()
                or len(description) > BotCommandLimit.MAX_DESCRIPTION
            ):
                raise bad_request(errors.BOT_COMMAND_DESCRIPTION_INVALID)
            stored.append({"command": name, "description": description})
        key = (self._command_scope(params), self._language(params))
        if stored:
            self.world.commands[key] = stored
        else:
            self.world.commands.pop(key, None)
        return True

    async def get_my_commands(self, params: Params) -> list[dict[str, str]]:
        """``getMyCommands`` for exactly that scope and language (no fallback)."""
        key = (self._command_scope(params), self._language(params))
        return list(self.world.commands.get(key, []))

    async def delete_my_commands(self, params: Params) -> bool:
        """``deleteMyCommands``."""
        self.world.commands.pop((self._command_scope(params), self._language(params)), None)
        return True

    def _command_scope(self, params: Params) -> str:
        return self.scope_key(
            params.json("scope", "Bad Request: can't parse BotCommandScope JSON object")
        )

    def scope_key(self, scope: Any) -> str:
        """Validate a ``BotCommandScope`` and give the key commands are stored under."""
        if scope is None:
            return _DEFAULT_SCOPE
        if not isinstance(scope, dict) or scope.get("type") not in set(BotCommandScopeType):
            raise bad_request("Bad Request: unsupported bot command scope type")
        canonical: dict[str, Any] = {"type": scope["type"]}
        if scope["type"] in (*_SCOPES_WITH_CHAT, BotCommandScopeType.CHAT_MEMBER):
            canonical["chat_id"] = self._resolve_chat(str(scope.get("chat_id", ""))).id
        if scope["type"] == BotCommandScopeType.CHAT_MEMBER:
            user_id = scope.get("user_id")
            if not isinstance(user_id, int) or user_id not in self.world.chats:
                raise bad_request("Bad Request: user not found")
            canonical["user_id"] = user_id
        return json.dumps(canonical, sort_keys=True)

    @staticmethod
    def _language(params: Params) -> str:
        language = params.string("language_code")
        if language and not _LANGUAGE.fullmatch(language):
            raise bad_request(errors.LANG_CODE_INVALID)
        return language

    async def set_chat_menu_button(self, params: Params) -> bool:
        """``setChatMenuButton`` for one private chat or, without ``chat_id``, the default."""
        button = self._menu_button(params)
        chat_id = self._menu_chat(params)
        if button["type"] == MenuButtonType.DEFAULT:
            self.world.menu_buttons.pop(chat_id, None)
        else:
            self.world.menu_buttons[chat_id] = button
        self.world.signal.notify()
        return True

    async def get_chat_menu_button(self, params: Params) -> dict[str, Any]:
        """``getChatMenuButton``: a chat without its own button answers ``default``; the
        default button, until set, is ``commands``."""
        chat_id = self._menu_chat(params)
        fallback = {"type": MenuButtonType.COMMANDS if chat_id == 0 else MenuButtonType.DEFAULT}
        return dict(self.world.menu_buttons.get(chat_id, fallback))

    def _menu_chat(self, params: Params) -> int:
        """The user id a menu button belongs to (0: the default button)."""
        if "chat_id" not in params.values:
            return 0
        if params.integer("chat_id") <= 0:
            raise bad_request("Bad Request: invalid chat_id specified")
        chat = self.world.chats.get(params.integer("chat_id"))
        if chat is None or chat.type != "private":
            raise bad_request("Bad Request: user not found")
        return chat.id

    @staticmethod
    def _menu_button(params: Params) -> dict[str, Any]:
        """Parse ``menu_button`` as the Bot API server does (absent: ``default``)."""
        button = params.json("menu_button", "Bad Request: can't parse menu button JSON object")
        if button is None:
            return {"type": MenuButtonType.DEFAULT}
        if not isinstance(button, dict):
            raise bad_request(_MENU_BUTTON + "MenuButton must be an Object")
        kind = _required_string(button, "type")
        if kind in (MenuButtonType.DEFAULT, MenuButtonType.COMMANDS):
            return {"type": kind}
        if kind != MenuButtonType.WEB_APP:
            raise bad_request(_MENU_BUTTON + "MenuButton has unsupported type")
        text = _required_string(button, "text")
        if "web_app" not in button:
            raise bad_request(_MENU_BUTTON + 'Can\'t find field "web_app"')
        web_app = button["web_app"]
        if not isinstance(web_app, dict):
            raise bad_request(_MENU_BUTTON + 'Field "web_app" must be of type Object')
        url = _required_string(web_app, "url")
        if not text.strip():
            raise bad_request(errors.BUTTON_TEXT_INVALID)
        if len(text) > _MAX_MENU_BUTTON_TEXT:
            raise bad_request(
                f"Bad Request: menu button text must be at most {_MAX_MENU_BUTTON_TEXT} "
                f"characters {errors.FAKE_STRICT}"
            )
        if not web_app_url_ok(url):
            raise errors.web_app_url_invalid("menu button", url)
        return {"type": kind, "text": text, "web_app": {"url": url}}

    def _bot_text_setter(self, field: str, limit: int) -> Handler:
        async def setter(params: Params) -> bool:
            value = params.string(field)
            if len(value) > limit:
                raise bad_request(f"Bad Request: bot {field.replace('_', ' ')} is too long")
            self.world.settings[f"{field}:{self._language(params)}"] = value
            return True

        return setter

    def _bot_text_getter(self, field: str) -> Handler:
        async def getter(params: Params) -> dict[str, str]:
            return {field: self.world.settings.get(f"{field}:{self._language(params)}", "")}

        return getter

    # -- messages ----------------------------------------------------------------------------

    async def send_message(self, params: Params) -> dict[str, Any]:
        """``sendMessage``."""
        chat = self._chat(params)
        text, entities = self._text(params)
        inline, other = parse_reply_markup(params.string("reply_markup"))
        link_preview = self._link_preview(params)
        reply_to = self._reply_to(chat, params)
        self._check_web_app_buttons(chat, inline)
        self._take_flood_slot(chat)
        self._check_reachable(chat)
        message = self.world.add_message(
            chat,
            self.world.bot,
            text=text,
            entities=entities,
            html=params.string("text"),
            parse_mode=params.string("parse_mode") or None,
            reply_markup=inline,
            reply_keyboard=other,
            reply_to=reply_to,
            disable_notification=params.boolean("disable_notification"),
            protect_content=params.boolean("protect_content"),
            link_preview_options=link_preview,
        )
        if other is not None and "force_reply" not in other:
            chat.reply_keyboard = None if other.get("remove_keyboard") else other
        return message.to_api()

    async def edit_message_text(self, params: Params) -> dict[str, Any]:
        """``editMessageText``; omitting ``reply_markup`` removes the inline keyboard.

        Edits still reach a user who blocked the bot, as on Telegram.
        """
        chat, message = self._message_to_edit(params)
        text, entities = self._text(params)
        inline = self._inline_markup(params)
        link_preview = self._link_preview(params)
        self._check_web_app_buttons(chat, inline)
        self._take_flood_slot(chat)
        if (text, entities, inline) == (message.text, message.entities, message.reply_markup):
            raise bad_request(errors.MESSAGE_NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, inline
        message.html = params.string("text")
        message.parse_mode = params.string("parse_mode") or None
        message.link_preview_options = link_preview
        return self._edited(message)

    async def edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        """``editMessageReplyMarkup``; without ``reply_markup`` the keyboard is removed."""
        chat, message = self._message_to_edit(params)
        inline = self._inline_markup(params)
        self._check_web_app_buttons(chat, inline)
        self._take_flood_slot(chat)
        if inline == message.reply_markup:
            raise bad_request(errors.MESSAGE_NOT_MODIFIED)
        message.reply_markup = inline
        return self._edited(message)

    async def delete_message(self, params: Params) -> bool:
        """``deleteMessage``: own messages, and incoming ones in private chats, under 48 h."""
        chat = self._chat(params)
        message = chat.get(params.integer("message_id"))
        if message is None or message.deleted:
            raise bad_request(errors.MESSAGE_TO_DELETE_NOT_FOUND)
        if not message.from_bot and chat.is_group and not chat.bot_is_admin:
            raise bad_request(errors.MESSAGE_CANT_BE_DELETED)
        if self.world.now() - message.date >= _DELETE_WINDOW:
            raise bad_request(errors.MESSAGE_CANT_BE_DELETED_FOR_EVERYONE)
        message.deleted = True
        self.world.signal.notify()
        return True

    async def answer_callback_query(self, params: Params) -> bool:
        """``answerCallbackQuery``: once per query, within the answer timeout."""
        query = self.world.callback_queries.get(params.string("callback_query_id"))
        if (
            query is None
            or query.answer is not None
            or self.world.clock() - query.created > self.world.callback_timeout
        ):
            raise bad_request(errors.QUERY_TOO_OLD)
        text = params.string("text")
        if len(text) > CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH:
            raise bad_request(errors.CALLBACK_ANSWER_TOO_LONG)
        query.answer = CallbackAnswer(
            text=text or None,
            show_alert=params.boolean("show_alert"),
            url=params.string("url") or None,
            cache_time=params.integer("cache_time"),
        )
        self.world.signal.notify()
        return True

    async def send_chat_action(self, params: Params) -> bool:
        """``sendChatAction``."""
        chat = self._chat(params)
        action = params.string("action").lower()
        if action not in _CHAT_ACTIONS:
            raise bad_request(errors.WRONG_CHAT_ACTION)
        self._check_reachable(chat)
        chat.actions.append(action)
        self.world.signal.notify()
        return True

    async def get_chat(self, params: Params) -> dict[str, Any]:
        """``getChat`` (a ``ChatFullInfo``)."""
        chat = self._chat(params)
        return {
            **chat.to_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    # -- shared checks -----------------------------------------------------------------------

    def _chat(self, params: Params) -> Chat:
        return self._resolve_chat(params.string("chat_id"))

    def _resolve_chat(self, raw: str) -> Chat:
        raw = raw.strip()
        if not raw:
            raise bad_request(errors.CHAT_ID_EMPTY)
        if raw.startswith("@"):
            chat = next(
                (c for c in self.world.chats.values() if c.fields.get("username") == raw[1:]),
                None,
            )
        else:
            chat = self.world.chats.get(int(raw)) if _CHAT_ID.fullmatch(raw) else None
        if chat is None:
            raise bad_request(errors.CHAT_NOT_FOUND)
        return chat

    def _text(self, params: Params) -> tuple[str, list[Entity]]:
        """Parse ``text``/``parse_mode``/``entities`` as TDLib does, with its limits."""
        raw = params.string("text")
        if not raw:
            raise bad_request(errors.MESSAGE_TEXT_EMPTY)
        source = clean_text(raw)
        parse_mode = params.string("parse_mode").lower()
        if parse_mode in ("", "none"):
            entities = entities_from_api(
                params.json("entities", "Bad Request: can't parse entities JSON object")
            )
            text = source
        elif parse_mode == "html":
            try:
                text, entities = parse_html(source, strict_entities=self.world.strict_entities)
            except HtmlParseError as exc:
                raise errors.cant_parse_entities(str(exc)) from exc
        elif parse_mode in ("markdown", "markdownv2"):
            raise bad_request(
                f"Bad Request: the fake Bot API does not implement parse_mode {parse_mode!r}; "
                "use HTML"
            )
        else:
            raise bad_request(errors.UNSUPPORTED_PARSE_MODE)
        text, entities = finalize(text, entities)
        if not text:
            raise bad_request(errors.MESSAGE_TEXT_EMPTY)
        if len(text) > MessageLimit.MAX_TEXT_LENGTH:
            raise bad_request(errors.MESSAGE_TOO_LONG)
        return text, entities

    @staticmethod
    def _link_preview(params: Params) -> dict[str, Any] | None:
        options = params.json(
            "link_preview_options", "Bad Request: can't parse link preview options JSON object"
        )
        if options is not None and not isinstance(options, dict):
            raise bad_request("Bad Request: object expected as link preview options")
        return options

    @staticmethod
    def _inline_markup(params: Params) -> dict[str, Any] | None:
        inline, other = parse_reply_markup(params.string("reply_markup"))
        if other is not None:
            raise bad_request("Bad Request: inline keyboard expected")
        return inline

    def _message_to_edit(self, params: Params) -> tuple[Chat, ChatMessage]:
        if params.has("inline_message_id"):
            raise bad_request(
                f"Bad Request: inline messages are not implemented {errors.FAKE_STRICT}"
            )
        chat = self._chat(params)
        if not params.has("message_id"):
            raise bad_request(errors.MESSAGE_ID_NOT_SPECIFIED)
        message = chat.get(params.integer("message_id"))
        if message is None or message.deleted:
            raise bad_request(errors.MESSAGE_TO_EDIT_NOT_FOUND)
        if not message.from_bot:
            raise bad_request(errors.MESSAGE_CANT_BE_EDITED)
        return chat, message

    def _edited(self, message: ChatMessage) -> dict[str, Any]:
        message.edited += 1
        message.edit_date = self.world.now()
        self.world.signal.notify()
        return message.to_api()

    def _reply_to(self, chat: Chat, params: Params) -> ChatMessage | None:
        reply = params.json(
            "reply_parameters", "Bad Request: can't parse reply parameters JSON object"
        )
        if reply is None and params.has("reply_to_message_id"):
            reply = {
                "message_id": params.integer("reply_to_message_id"),
                "allow_sending_without_reply": params.boolean("allow_sending_without_reply"),
            }
        if reply is None:
            return None
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise bad_request("Bad Request: can't parse reply parameters: message_id is required")
        source = self._resolve_chat(str(reply["chat_id"])) if "chat_id" in reply else chat
        target = source.get(reply["message_id"])
        if target is None or target.deleted:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request(errors.MESSAGE_TO_REPLY_NOT_FOUND)
        return target

    @staticmethod
    def _check_web_app_buttons(chat: Chat, inline: dict[str, Any] | None) -> None:
        """Mini App buttons open only in private chats; Telegram refuses them elsewhere."""
        if chat.type != "private" and has_web_app_button(inline):
            raise bad_request(errors.BUTTON_TYPE_INVALID)

    def _take_flood_slot(self, chat: Chat) -> None:
        retry_after = self.world.flood.acquire(chat.id, is_group=chat.is_group)
        if retry_after is not None:
            raise errors.too_many_requests(retry_after)

    def _check_reachable(self, chat: Chat) -> None:
        if chat.is_group:
            return
        if chat.id in self.world.deactivated:
            raise forbidden(errors.USER_DEACTIVATED)
        if chat.id in self.world.blocked:
            raise forbidden(errors.BLOCKED_BY_USER)
        if not chat.started:
            raise forbidden(errors.CANT_INITIATE)


def _required_string(obj: dict[str, Any], name: str) -> str:
    """TDLib's ``get_required_string_field``, with the menu button's error prefix."""
    if name not in obj:
        raise bad_request(_MENU_BUTTON + f'Can\'t find field "{name}"')
    value = obj[name]
    if not isinstance(value, str):
        raise bad_request(_MENU_BUTTON + f'Field "{name}" must be of type String')
    return value
