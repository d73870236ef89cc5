"""Helpers to run a python-telegram-bot ``Application`` against the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder

from .server import FakeBotApi


def application_builder(server: FakeBotApi) -> ApplicationBuilder:
    """An ``ApplicationBuilder`` with the token and URLs of a started ``server``."""
    return (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )


@asynccontextmanager
async def polling(
    application: Application[Any, Any, Any, Any, Any, Any], *, poll_timeout: int = 1
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Initialize, poll and start ``application``; stop and shut it down on exit.

    Args:
        application: Built with :func:`application_builder` (or equivalent URLs).
        poll_timeout: The ``getUpdates`` long-polling timeout in seconds.
    """
    async with application:
        updater = application.updater
        if updater is None:
            raise ValueError("the application has no updater")
        await updater.start_polling(poll_interval=0, timeout=poll_timeout)
        await application.start()
        try:
            yield application
        finally:
            await updater.stop()
            await application.stop()
