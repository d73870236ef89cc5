"""Telegram handlers, one module per flow. :func:`register` wires them in order."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, TypeHandler, filters

from bot import callbacks as cb
from bot.context import Context
from bot.handlers import admin, buy, common, link, membership, orders, privacy, shop, start
from bot.services.users import Mode

TEXT_HANDLERS: dict[Mode, Callable[[Update, Context], Coroutine[Any, Any, None]]] = {
    Mode.SERVICES: buy.search_services,
    Mode.COUNTRIES: buy.search_countries,
    Mode.CONFIRM: buy.nudge_to_confirm,
    Mode.BROADCAST: admin.announcement_typed,
}
"""What typed text (not a command, not a key) means in each mode of the chat state."""


async def typed(update: Update, context: Context) -> None:
    """Typed text, handed to its mode's handler; outside a flow it is unknown input."""
    mode = context.dialog.mode
    handler = TEXT_HANDLERS[mode] if mode is not None else common.unknown_input
    await handler(update, context)


def register(application: Application) -> None:
    """Add every handler.

    Group -1 guards every update (private chats only, loads the profile and chat state).
    Group 0 holds everything else, first match wins: commands and buttons of each flow, a
    pasted key, typed text routed by the chat state, and answers for buttons and messages
    nobody wanted.
    """
    application.add_handler(TypeHandler(Update, common.guard), group=-1)
    text = filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED
    for handler in (
        *admin.handlers(),
        *buy.handlers(),
        *start.handlers(),
        *link.handlers(),
        *privacy.handlers(),
        *orders.handlers(),
        *membership.handlers(),
        *shop.handlers(),
        MessageHandler(text, typed),
        common.ButtonHandler(common.noop, pattern=cb.Noop),
        CallbackQueryHandler(common.stale_button),
        MessageHandler(filters.ALL, common.unknown_input),
    ):
        application.add_handler(handler, group=0)
    application.add_error_handler(common.on_error)
