"""Shared handler plumbing: the private-chat guard, replies, and the global error handler."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from dataclasses import replace
from typing import Any, Generic, cast

from telegram import BotCommand, BotCommandScopeChat, CallbackQuery, Message, Update, User
from telegram.constants import CallbackQueryLimit, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CallbackQueryHandler

from bot import callbacks as cb
from bot import pressed, views
from bot.callbacks import C
from bot.commands import command_list
from bot.context import Context
from bot.health import DATABASE
from bot.i18n import needs_chat_command_menu
from bot.services.errors import (
    JiemaError,
    KeyUnreadableError,
    NotLinkedError,
    StoreUnavailableError,
)
from bot.services.users import Dialog
from bot.updates import update_kind

log = logging.getLogger(__name__)

_KEY_LIKE = re.compile(r"jm_[A-Za-z0-9_-]{8,}")


def looks_like_key(text: str | None) -> bool:
    """Does the text contain something shaped like an API key (to delete or warn about)?"""
    return bool(text and _KEY_LIKE.search(text))


async def guard(update: Update, context: Context) -> None:
    """Runs first for every update: private chats only, and load the user's profile.

    In a group the bot answers commands with a pointer to the private chat, warns about a
    pasted key, and handles nothing else. A command ends any flow in progress (what typed
    text meant), except /buy, which starts one. On first contact the chat gets its command
    menu when the app would show another language's.
    """
    chat, user = update.effective_chat, update.effective_user
    if chat is not None and chat.type != ChatType.PRIVATE:
        await _refuse_group(update, context)
        raise ApplicationHandlerStop
    if user is None:
        raise ApplicationHandlerStop
    users = context.services.users
    context.profile, created = await users.enter(
        user.id, user.language_code, writes=update.effective_message is not None
    )
    if created:
        await _localise_command_menu(context, user)
    text = update.message.text if update.message else None
    if text and text.startswith("/") and context.dialog.mode:
        await remember(context, replace(context.dialog, mode=None))


async def _localise_command_menu(context: Context, user: User) -> None:
    """Give the user's chat the command menu in their language if their app would not.

    The menus registered per language (`bot.commands.set_commands`) are picked by the app's
    two-letter language code, which misses some users (``zh-hant`` apps get the Simplified
    menu, ``fil`` ones the English default): see `bot.i18n.needs_chat_command_menu`.
    """
    t = context.t
    if not needs_chat_command_menu(user.language_code, t.language):
        return
    with suppress(TelegramError):  # the menu is a convenience; the conversation goes on
        await context.bot.set_my_commands(
            [BotCommand(name, text) for name, text in command_list(t)],
            scope=BotCommandScopeChat(user.id),
        )


async def remember(context: Context, dialog: Dialog) -> None:
    """Save the user's chat state when it changed (read again with the next update)."""
    if context.profile is not None and dialog != context.dialog:
        await context.services.users.save_dialog(context.user_id, dialog)
        context.profile = replace(context.profile, dialog=dialog.stored())


async def _refuse_group(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is not None:
        context.profile = await context.services.users.get(user.id)
    t = context.t
    if update.callback_query is not None:
        await answer(update.callback_query, views.private_only(t).text[:150])
        return
    message = update.effective_message
    if message is None or message.text is None:
        return
    command = message.text.split(maxsplit=1)[0] if message.text.startswith("/") else ""
    addressee = command.partition("@")[2]
    if looks_like_key(message.text):
        await message.reply_text(views.key_in_group(t).text)
    elif command and addressee in ("", context.bot.username):
        await message.reply_text(views.private_only(t).text)


async def reply(update: Update, screen: views.Screen) -> Message | None:
    """Send ``screen`` as a new message in the update's chat."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(screen.text, reply_markup=screen.markup)


async def edit(query: CallbackQuery, screen: views.Screen) -> None:
    """Edit the pressed message into ``screen``; an identical screen is left alone."""
    message = query.message
    if (
        isinstance(message, Message)
        and message.text_html == screen.text
        and pressed.shows(message, screen.markup)
    ):
        return
    try:
        await query.edit_message_text(screen.text, reply_markup=screen.markup)
    except BadRequest as exc:
        if "not modified" not in exc.message:
            raise


async def answer(query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Stop the button's spinner, with an optional short note (cut to Telegram's limit)."""
    limit = CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH
    if text and len(text) > limit:
        text = text[: limit - 1] + "…"
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:  # too old: the user pressed long ago; nothing to stop
        log.debug("callback answer refused: %s", exc.message)


async def ask_then_confirm(
    update: Update,
    button: cb.Unlink | cb.Forget | None,
    kept: Callable[[], views.Screen],
    act: Callable[[bool], Awaitable[views.Screen]],
) -> None:
    """A command that asks before it erases: the command (``button`` None) runs
    ``act(False)``, whose screen asks when there is something to confirm; the confirmation
    button runs ``act(True)``; declining shows ``kept()`` and calls no service."""
    query = update.callback_query
    if query is not None:
        await answer(query)
    if button is not None and not button.confirmed:
        if query is not None:
            await edit(query, kept())
        return
    screen = await act(button is not None)
    if query is not None:
        await edit(query, screen)
    else:
        await reply(update, screen)


OnPress = Callable[[Update, Context, C], Coroutine[Any, Any, None]]
"""A button's handler: called with the update, the context and the pressed button's value."""


class ButtonHandler(CallbackQueryHandler[Context, None], Generic[C]):
    """A ``CallbackQueryHandler`` for one button type, handing its callback the typed value.

    ``pattern`` is a type of :mod:`bot.callbacks`, matched with ``isinstance`` as PTB matches
    a type pattern against callback data objects. Our callback data stays the string
    Telegram sends (buttons work across restarts and replicas, no server-side cache), so it
    is parsed here by :func:`bot.callbacks.parse`: strictly (forged data matches no handler
    and falls through to :func:`stale_button`), and once per update however many handlers
    look (the parse is memoised). The callback is called as ``callback(update, context,
    button)``.
    """

    __slots__ = ("_kind", "_on_press")

    def __init__(self, callback: OnPress[C], pattern: type[C]) -> None:
        # PTB keeps ``callback`` for its repr only: handle_update below calls it with the button.
        plain = cast("Callable[[Update, Context], Coroutine[Any, Any, None]]", callback)
        super().__init__(plain, pattern=pattern)
        self._kind = pattern
        self._on_press = callback

    def check_update(self, update: object) -> C | None:
        query = update.callback_query if isinstance(update, Update) else None
        button = cb.parse(query.data) if query is not None else None
        return button if isinstance(button, self._kind) else None

    async def handle_update(
        self,
        update: Update,
        application: Application[Any, Context, Any, Any, Any, Any],
        check_result: object,
        context: Context,
    ) -> None:
        if isinstance(check_result, self._kind):
            await self._on_press(update, context, check_result)


async def api_failed(update: Update, context: Context, exc: JiemaError) -> None:
    """Tell the user what went wrong with the API and what to do next."""
    text = views.api_error(context.t, exc)
    if update.callback_query is not None:
        await answer(update.callback_query, text, alert=True)
    else:
        await reply(update, views.Screen(context.t.align(text)))


async def stale_button(update: Update, context: Context) -> None:
    """Any callback we do not recognise: forged, or from a version long gone."""
    if update.callback_query is not None:
        await answer(update.callback_query, context.t._("This button no longer works."))


async def noop(update: Update, context: Context, _: cb.Noop) -> None:
    """A label button (page counter)."""
    if update.callback_query is not None:
        await answer(update.callback_query)


async def unknown_input(update: Update, context: Context) -> None:
    """Anything no flow wanted: stickers, photos, random text, unknown commands."""
    if update.effective_message is not None and update.message is not None:
        await reply(update, views.unknown_input(context.t))


async def explain(update: Update, context: Context, error: BaseException) -> bool:
    """Answer the failures every handler can meet; False for anything unexpected.

    A handler lets these propagate (the error handler calls this), or calls it itself when
    it must go on afterwards (the buy conversation still has to settle its state).
    """
    if isinstance(error, NotLinkedError):
        if update.callback_query is not None:
            await answer(update.callback_query)
        unreadable = isinstance(error, KeyUnreadableError)
        await reply(update, (views.key_unreadable if unreadable else views.not_linked)(context.t))
        return True
    if isinstance(error, JiemaError):
        await api_failed(update, context, error)
        return True
    if isinstance(error, StoreUnavailableError):
        if update.callback_query is not None:
            await answer(update.callback_query, views.unavailable(context.t).text, alert=True)
        else:
            await reply(update, views.unavailable(context.t))
        return True
    return False


async def on_error(update: object, context: Context) -> None:
    """Log the failure with context (never message text: it may hold a key) and apologise."""
    error = context.error
    user_id = (
        update.effective_user.id if isinstance(update, Update) and update.effective_user else None
    )
    kind = type(error).__name__
    if context.bot_data.attached:
        context.services.metrics.updates.labels(update_kind(update), "error").inc()
    if isinstance(error, JiemaError | NotLinkedError):
        log.info("user %s: %s", user_id, kind)
    elif isinstance(error, StoreUnavailableError):
        log.warning("user %s: database unavailable (%s)", user_id, error)
        if context.bot_data.attached:
            context.services.metrics.database_errors.inc()
            context.services.health.problem(DATABASE, f"unavailable: {error}")
    else:
        log.error("unhandled %s for user %s", kind, user_id, exc_info=error)
    if not isinstance(update, Update) or error is None:
        return
    try:
        if await explain(update, context, error):
            return
        if update.callback_query is not None:
            await answer(update.callback_query, views.sorry(context.t).text, alert=True)
        else:
            await reply(update, views.sorry(context.t))
    except TelegramError as exc:
        log.warning("could not tell user %s about the failure: %s", user_id, exc)
