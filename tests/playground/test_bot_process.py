"""The playground never restarts the bot: when it dies, the chat says so."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from tests.playground.conftest import Playground


@pytest.mark.bot_env(LOG_LEVEL="CHATTY")
async def test_a_bot_that_exits_is_shown_stopped_with_its_log(
    playground: Playground, context: BrowserContext
) -> None:
    page = await context.new_page()
    await page.goto(playground.url)
    status = page.locator("#bot-status")
    await expect(status).to_have_text(
        f"bot stopped (exit code 2); see {playground.data_dir / 'bot.log'}"
    )
    await expect(status).to_have_class("status down")
    assert "LOG_LEVEL must be one of" in playground.bot_log()
