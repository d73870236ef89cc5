"""``/forget``: erase everything the bot keeps about the user, after a confirmation."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.context import Context
from bot.handlers.common import ButtonHandler, ask_then_confirm
from bot.services.privacy import ConfirmForget, Forgot


async def forget(update: Update, context: Context, button: cb.Forget | None = None) -> None:
    """``/forget`` asks; its confirmation erases (refused while an order is in progress)."""

    async def erase(confirmed: bool) -> views.Screen:
        outcome = await context.services.privacy.forget(context.user_id, confirmed=confirmed)
        if isinstance(outcome, ConfirmForget):
            return views.forget_confirm(context.t)
        if isinstance(outcome, Forgot):
            return views.forgotten(context.t)
        return views.forget_refused(context.t)

    await ask_then_confirm(update, button, lambda: views.kept_data(context.t), erase)


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("forget", forget),
        ButtonHandler(forget, pattern=cb.Forget),
    ]
