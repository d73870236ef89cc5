"""Linking and unlinking the user's API key.

No conversation state is needed: a message that looks like a key is recognised whenever it
comes (after ``/link``, or pasted on its own), and ``/link jm_…`` works in one message.
The message holding a key is deleted before anything else happens, whatever the outcome.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot import callbacks as cb
from bot import views
from bot.context import Context
from bot.handlers.common import (
    ButtonHandler,
    answer,
    ask_then_confirm,
    looks_like_key,
    reply,
)
from bot.services.accounts import ConfirmUnlink, KeyRefused, NotAKey, NothingLinked


async def _delete(message: Message) -> bool:
    try:
        return await message.delete()
    except TelegramError:
        return False


async def link_key(update: Update, context: Context, text: str) -> None:
    """Delete the message, then validate and store the key."""
    message = update.effective_message
    assert message is not None
    deleted = await _delete(message) if looks_like_key(message.text) else True
    outcome = await context.services.accounts.link(context.user_id, text)
    if isinstance(outcome, NotAKey):
        await reply(update, views.not_a_key(context.t))
    elif isinstance(outcome, KeyRefused):
        await reply(update, views.key_refused(context.t))
    else:
        await reply(update, views.linked(context.t, outcome.account, deleted))


async def start_link(update: Update, context: Context, _: cb.LinkMenu | None = None) -> None:
    """``/link`` asks for the key; ``/link jm_…`` links it at once."""
    if update.callback_query:
        await answer(update.callback_query)
    if context.args:
        await link_key(update, context, " ".join(context.args))
    else:
        await reply(update, views.ask_for_key(context.t))


async def pasted_key(update: Update, context: Context) -> None:
    """A message that is (or starts like) a key: link it, deleting the message first."""
    text = update.effective_message.text if update.effective_message else None
    await link_key(update, context, text or "")


async def unlink(update: Update, context: Context, button: cb.Unlink | None = None) -> None:
    """``/unlink`` or its confirmation: erase the key; with active orders, ask first."""

    async def erase(confirmed: bool) -> views.Screen:
        outcome = await context.services.accounts.unlink(context.user_id, confirmed=confirmed)
        if isinstance(outcome, NothingLinked):
            return views.not_linked(context.t)
        if isinstance(outcome, ConfirmUnlink):
            return views.unlink_confirm(context.t, outcome.active_orders)
        return views.unlinked(context.t)

    await ask_then_confirm(update, button, lambda: views.kept_key(context.t), erase)


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("link", start_link),
        ButtonHandler(start_link, pattern=cb.LinkMenu),
        CommandHandler("unlink", unlink),
        ButtonHandler(unlink, pattern=cb.Unlink),
        MessageHandler(filters.TEXT & filters.Regex(r"^\s*jm_\S+\s*$"), pasted_key),
    ]
