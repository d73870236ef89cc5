"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.fakebotapi import FakeBotApi


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    """The strict fake Bot API as the tests' bot knows it: token ``123456:TEST``, bot
    ``@jiema_test_bot``, Telegram's flood limits."""
    async with FakeBotApi() as server:
        yield server
