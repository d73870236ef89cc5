"""A strict fake of the Telegram Bot API for end-to-end tests and the playground.

What passes here must work on real Telegram: limits, validation and error descriptions
follow the real service (README.md beside this file lists the deliberate deviations).
Long polling and webhooks (delivered as the Bot API server does, see :mod:`.webhook`) are
both served; users open Mini Apps with signed launch data (:mod:`.webapp`).

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
from .state import (
    Button,
    CallbackAnswer,
    Chat,
    ChatMessage,
    RequestRecord,
    WebhookConfig,
    WebhookDelivery,
)
from .users import FakeUser
from .webapp import DARK_THEME, LIGHT_THEME, init_data_hash, launch_url, sign_init_data

__all__ = [
    "DARK_THEME",
    "LIGHT_THEME",
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
    "WebhookConfig",
    "WebhookDelivery",
    "application_builder",
    "init_data_hash",
    "launch_url",
    "parse_html",
    "polling",
    "sign_init_data",
    "utf16_len",
    "utf16_slice",
]
