"""``python -m bench.echobot``: the bare PTB baseline of ``bench.throughput``.

An ``Application`` with PTB's defaults (no rate limiter, updates processed one at a time),
a ``MessageHandler`` that echoes text and a ``CallbackQueryHandler`` that answers every
button. Reads ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_URL`` like the bot; stops on SIGTERM.
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the text back."""
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(update.message.text)


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop the button's spinner."""
    if update.callback_query is not None:
        await update.callback_query.answer()


def main() -> int:
    url = os.environ["TELEGRAM_API_URL"].rstrip("/")
    application = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{url}/bot")
        .base_file_url(f"{url}/file/bot")
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(answer))
    application.run_polling(poll_interval=0.0, timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
