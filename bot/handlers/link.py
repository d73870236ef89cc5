"""Linking and unlinking the user's API key.

No conversation state is needed: a message that looks like a key is recognised whenever it
comes (after ``/link``, or pasted on its own), and ``/link jm_…`` works in one message.
The message holding a key is deleted before anything else happens, whatever the outcome.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import callbacks as cb
from bot import views
from bot.api import ApiKey
from bot.api.errors import AuthError, ForbiddenError, JiemaError
from bot.context import Context
from bot.handlers.common import (
    answer,
    api_failed,
    callback_is,
    callback_of,
    edit,
    looks_like_key,
    parsed,
    reply,
)


async def _delete(message: Message) -> bool:
    try:
        return await message.delete()
    except TelegramError:
        return False


async def link_key(update: Update, context: Context, text: str) -> None:
    """Delete the message, then validate and store the key."""
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    deleted = await _delete(message) if looks_like_key(message.text) else True
    key = ApiKey.parse(text)
    if key is None:
        await reply(update, views.not_a_key(context.t))
        return
    try:
        account = await context.services.accounts.link(update.effective_user.id, key)
    except (AuthError, ForbiddenError):
        await reply(update, views.key_refused(context.t))
        return
    except JiemaError as exc:
        await api_failed(update, context, exc)
        return
    await reply(update, views.linked(context.t, account, deleted))


async def start_link(update: Update, context: Context) -> None:
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


async def unlink(update: Update, context: Context) -> None:
    """Erase the key; with active orders, ask first (they stop being watched)."""
    user_id = update.effective_user.id  # type: ignore[union-attr]
    if context.profile is None or not context.profile.has_key:
        await reply(update, views.not_linked(context.t))
        return
    active = await context.services.store.active_orders_for_user(user_id)
    if active:
        await reply(update, views.unlink_confirm(context.t, len(active)))
        return
    await context.services.accounts.unlink(user_id)
    await reply(update, views.unlinked(context.t))


async def unlink_answer(update: Update, context: Context) -> None:
    choice = parsed(update)
    query = update.callback_query
    assert isinstance(choice, cb.Unlink) and query is not None
    await answer(query)
    if choice.confirmed:
        await context.services.accounts.unlink(query.from_user.id)
        await edit(query, views.unlinked(context.t))
    else:
        await edit(query, views.kept_key(context.t))


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("link", start_link),
        CallbackQueryHandler(start_link, pattern=callback_is(cb.Menu("link"))),
        CommandHandler("unlink", unlink),
        CallbackQueryHandler(unlink_answer, pattern=callback_of(cb.Unlink)),
        MessageHandler(filters.TEXT & filters.Regex(r"^\s*jm_\S+\s*$"), pasted_key),
    ]
