"""``/forget``: erase everything the bot keeps about the user, after a confirmation."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.context import Context
from bot.handlers.common import answer, callback_of, edit, parsed, reply
from bot.services.privacy import ConfirmForget, Forgot


async def forget(update: Update, context: Context) -> None:
    """``/forget`` asks; its confirmation erases (refused while an order is in progress)."""
    choice = parsed(update)
    query = update.callback_query
    if query is not None:
        await answer(query)
    if isinstance(choice, cb.Forget) and not choice.confirmed:
        if query is not None:
            await edit(query, views.kept_data(context.t))
        return
    confirmed = isinstance(choice, cb.Forget) and choice.confirmed
    outcome = await context.services.privacy.forget(context.user_id, confirmed=confirmed)
    if isinstance(outcome, ConfirmForget):
        screen = views.forget_confirm(context.t)
    elif isinstance(outcome, Forgot):
        screen = views.forgotten(context.t)
    else:
        screen = views.forget_refused(context.t)
    if query is not None:
        await edit(query, screen)
    else:
        await reply(update, screen)


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("forget", forget),
        CallbackQueryHandler(forget, pattern=callback_of(cb.Forget)),
    ]
