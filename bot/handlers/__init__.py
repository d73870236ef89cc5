"""Telegram handlers, one module per flow. :func:`register` wires them in order."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, TypeHandler, filters

from bot import callbacks as cb
from bot.handlers import buy, common, link, membership, orders, start


def register(application: Application) -> None:
    """Add every handler.

    Group -1 guards every update (private chats only, loads the profile). Group 0 is the buy
    conversation, whose steps stop further processing. Group 1 holds everything else, first
    match wins, ending with answers for buttons and messages nobody wanted.
    """
    application.add_handler(TypeHandler(Update, common.guard), group=-1)
    application.add_handler(buy.conversation(), group=0)
    for handler in (
        *start.handlers(),
        *link.handlers(),
        *orders.handlers(),
        *membership.handlers(),
        CallbackQueryHandler(common.noop, pattern=common.callback_of(cb.Noop)),
        CallbackQueryHandler(common.stale_button),
        MessageHandler(filters.ALL, common.unknown_input),
    ):
        application.add_handler(handler, group=1)
    application.add_error_handler(common.on_error)
