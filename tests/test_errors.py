"""The global error handler: logs with context, never the key, and apologises to the user."""

from __future__ import annotations

import logging

import pytest
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.context import BotData, Context
from bot.fakebotapi import FakeBotApi
from bot.handlers import common

KEY = "jm_" + "S3cr3t" * 7


async def test_an_unexpected_error_is_logged_without_the_key_and_the_user_gets_an_apology(
    telegram: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    application = (
        Application.builder()
        .token(telegram.token)
        .base_url(telegram.base_url)
        .context_types(ContextTypes(context=Context, bot_data=BotData))
        .build()
    )
    application.add_error_handler(common.on_error)
    alice = telegram.user(1001, first_name="Alice")
    message = await alice.send(f"/link {KEY}")
    update = Update.de_json({"update_id": 1, "message": message.to_api()}, application.bot)
    caplog.set_level(logging.DEBUG)
    async with application:
        await application.process_error(update, RuntimeError("database is locked"))
    sorry = await alice.wait_for_message()
    assert sorry.text.startswith("Sorry, something went wrong on my side.")
    [record] = [r for r in caplog.records if r.name == "bot.handlers.common"]
    assert "RuntimeError" in record.getMessage()
    assert "1001" in record.getMessage()
    assert KEY not in caplog.text
    telegram.assert_no_errors()
