"""Debian's Chromium under Playwright, started as every browser test and benchmark here does.

Never a browser of Playwright's own (``playwright install`` downloads it, and downloads are
not reachable): the system's ``/usr/bin/chromium``, headless, without the background
networking that this closed network refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from playwright.async_api import Browser, async_playwright

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A launched headless Chromium, closed afterwards."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()
