"""``/forget``: erase everything the bot keeps about the user, after a confirmation."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.context import Context
from bot.handlers.common import ButtonHandler, answer, edit, reply
from bot.services.privacy import ConfirmForget, Forgot


async def forget(update: Update, context: Context, button: cb.Forget | None = None) -> None:
    """``/forget`` asks; its confirmation erases (refused while an order is in progress)."""
    query = update.callback_query
    if query is not None:
        await answer(query)
    if button is not None and not button.confirmed:
        if query is not None:
            await edit(query, views.kept_data(context.t))
        return
    confirmed = button is not None and button.confirmed
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
        ButtonHandler(forget, pattern=cb.Forget),
    ]
