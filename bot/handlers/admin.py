"""The operator's console in the chat (``/stats``, ``/broadcast``) and announcements' opt-out.

Every operator update and button is checked against ``ADMIN_IDS`` here, on each update:
for anyone else ``/stats`` and ``/broadcast`` are unknown commands, and an operator's button
forwarded to (or replayed by) someone else does nothing. The Mute button under an
announcement and ``/settings`` are everyone's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import replace
from typing import Any, Concatenate, ParamSpec

from telegram import Bot, BotCommand, BotCommandScopeChat, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import BaseHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.commands import command_list
from bot.context import Context
from bot.core import Services
from bot.handlers.common import ButtonHandler, answer, edit, remember, reply, unknown_input
from bot.i18n import N_, Translator, get_translator
from bot.services.broadcasts import Cancelled, Discarded, NotRunning
from bot.services.users import Mode

log = logging.getLogger(__name__)

ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("stats", N_("Bot statistics (operators)")),
    ("broadcast", N_("Announce something to every user (operators)")),
]

P = ParamSpec("P")
Handler = Callable[Concatenate[Update, Context, P], Coroutine[Any, Any, None]]


def admin_command_list(t: Translator) -> list[tuple[str, str]]:
    """An operator's command menu in ``t``'s language: everyone's commands, then theirs."""
    return [*command_list(t), *((name, t._(text)) for name, text in ADMIN_COMMANDS)]


async def set_admin_menus(bot: Bot, services: Services) -> None:
    """At start: each operator's chat gets the menu with /stats and /broadcast, in their
    language (English until the bot knows it). An operator who never opened the chat cannot
    get one (Telegram refuses the scope); that is logged and skipped."""
    for admin_id in sorted(services.admin.admin_ids):
        profile = await services.users.get(admin_id)
        t = get_translator(profile.language if profile and profile.language else "en")
        commands = [BotCommand(name, text) for name, text in admin_command_list(t)]
        try:
            await bot.set_my_commands(commands, scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:
            log.warning("no operator menu for %s: %s", admin_id, exc)


def _is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return context.services.admin.is_admin(user.id if user else None)


def operators_only(handler: Handler[P]) -> Handler[P]:
    """Run ``handler`` for operators; otherwise a command is unknown, a button does nothing."""

    async def checked(update: Update, context: Context, *args: P.args, **kwargs: P.kwargs) -> None:
        if _is_admin(update, context):
            await handler(update, context, *args, **kwargs)
        elif update.callback_query is not None:
            await answer(update.callback_query)
        else:
            await unknown_input(update, context)

    checked.__doc__ = handler.__doc__
    return checked


@operators_only
async def stats(update: Update, context: Context, _: cb.StatsRefresh | None = None) -> None:
    """/stats, or its Refresh button (redrawn in place)."""
    screen = views.stats(context.t, await context.services.admin.stats())
    query = update.callback_query
    if query is not None:
        await answer(query)
        await edit(query, screen)
    else:
        await reply(update, screen)


def _text_after_command(message: Message) -> str:
    """What follows ``/broadcast`` in the same message, as typed (newlines kept)."""
    text = message.text or ""
    for index, char in enumerate(text):
        if char.isspace():
            return text[index:].strip()
    return ""


@operators_only
async def start_broadcast(update: Update, context: Context) -> None:
    """``/broadcast`` asks for the text; ``/broadcast <text>`` previews it at once."""
    message = update.effective_message
    text = _text_after_command(message) if message else ""
    if text:
        await _preview(update, context, text)
        return
    await remember(context, replace(context.dialog, mode=Mode.BROADCAST))
    await reply(update, views.broadcast_ask(context.t))


@operators_only
async def announcement_typed(update: Update, context: Context) -> None:
    """Text typed after ``/broadcast``: the announcement to preview."""
    message = update.effective_message
    if message is not None:
        await _preview(update, context, (message.text or "").strip())


async def _preview(update: Update, context: Context, text: str) -> None:
    """Send the announcement to the operator exactly as users will get it: Telegram checks
    its HTML and length there. Refused: say why, nothing is kept. Accepted: keep it as a
    draft and ask to confirm, with the number of recipients."""
    message = update.effective_message
    if message is None:
        return
    preview = views.announcement(context.t, text)
    try:
        await message.reply_text(
            preview.text, parse_mode=ParseMode.HTML, reply_markup=preview.markup
        )
    except BadRequest as exc:
        await reply(update, views.broadcast_invalid(context.t, exc.message))
        return
    drafted = await context.services.broadcasts.draft(context.user_id, text)
    await remember(context, replace(context.dialog, mode=None))
    await reply(
        update, views.broadcast_confirm(context.t, drafted.broadcast_id, drafted.recipients)
    )


@operators_only
async def broadcast_action(update: Update, context: Context, button: cb.BroadcastAction) -> None:
    """Send, Cancel (a draft) or Stop (a running broadcast), from the pressed message."""
    query = update.callback_query
    assert query is not None
    message = query.message
    service = context.services.broadcasts
    t = context.t
    if button.confirm:
        if not isinstance(message, Message):
            await answer(query, t._("This button no longer works."))
            return
        started = await service.start(context.user_id, button.broadcast_id, message.message_id)
        if isinstance(started, NotRunning):
            await answer(query, t._("This button no longer works."))
            return
        await answer(query)
        await edit(query, views.broadcast_progress(t, started.broadcast_id, started.tally))
        return
    outcome = await service.cancel(context.user_id, button.broadcast_id)
    if isinstance(outcome, NotRunning):
        await answer(query, t._("This button no longer works."))
        return
    await answer(query)
    if isinstance(outcome, Discarded):
        await edit(query, views.broadcast_dropped(t))
    elif isinstance(outcome, Cancelled):
        await edit(query, views.broadcast_stopping(t))


async def mute(update: Update, context: Context, _: cb.MuteAnnouncements) -> None:
    """The Mute button under an announcement: no more announcements (codes still come)."""
    query = update.callback_query
    assert query is not None
    await context.services.broadcasts.set_muted(context.user_id, True)
    await answer(query, views.announcements_muted(context.t), alert=True)
    with suppress(TelegramError):  # the button is a convenience; the choice is saved
        await query.edit_message_reply_markup(None)


async def settings(
    update: Update, context: Context, button: cb.SetAnnouncements | None = None
) -> None:
    """``/settings``, or its toggle: announcements on or off."""
    query = update.callback_query
    muted = context.profile.announcements_muted if context.profile else False
    if button is not None:
        muted = await context.services.broadcasts.set_muted(context.user_id, not button.on)
    screen = views.settings(context.t, muted)
    if query is not None:
        await answer(query)
        await edit(query, screen)
    else:
        await reply(update, screen)


def handlers() -> list[BaseHandler]:
    """The console's commands and buttons (typed announcements come through
    :func:`announcement_typed`)."""
    return [
        CommandHandler("stats", stats),
        ButtonHandler(stats, pattern=cb.StatsRefresh),
        CommandHandler("broadcast", start_broadcast),
        ButtonHandler(broadcast_action, pattern=cb.BroadcastAction),
        ButtonHandler(mute, pattern=cb.MuteAnnouncements),
        CommandHandler("settings", settings),
        ButtonHandler(settings, pattern=cb.SetAnnouncements),
    ]
