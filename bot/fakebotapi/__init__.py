"""A strict fake of the Telegram Bot API for end-to-end tests.

What passes here must work on real Telegram: limits, validation and error descriptions
follow the real service (README.md beside this file lists the deliberate deviations).

Typical use::

    async with FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot") as server:
        alice = server.user(1001, first_name="Alice", language_code="en")
        async with polling(application_builder(server).build()) as app:
            ...
            await alice.send("/start")
            reply = await alice.wait_for_message(lambda m: "Welcome" in m.text)
            answer = await alice.press(reply, "Buy")
        server.assert_no_errors()
"""

from .clock import ManualClock
from .entities import Entity, utf16_len, utf16_slice
from .errors import ApiError
from .flood import FloodLimits
from .html import HtmlParseError, parse_html
from .ptb import application_builder, polling
from .server import FakeBotApi
from .state import Button, CallbackAnswer, Chat, ChatMessage, RequestRecord
from .users import FakeUser

__all__ = [
    "ApiError",
    "Button",
    "CallbackAnswer",
    "Chat",
    "ChatMessage",
    "Entity",
    "FakeBotApi",
    "FakeUser",
    "FloodLimits",
    "HtmlParseError",
    "ManualClock",
    "RequestRecord",
    "application_builder",
    "parse_html",
    "polling",
    "utf16_len",
    "utf16_slice",
]
