"""Finding the code in an SMS."""

from __future__ import annotations

import pytest

from bot.sms import extract_code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("Your Telegram code is 48213. Don't share it.", "48213"),
        ("G-123456 is your Google verification code.", "123456"),
        ("Код подтверждения: 123-456", "123456"),
        ("Call +60123456789 if this wasn't you. Your code: 9981", "9981"),
        ("您的验证码是 884422，5分钟内有效。", "884422"),
        ("WhatsApp code 123 456", "123456"),
        ("Order 20231 shipped; your code is 7788", "7788"),
    ],
)
def test_code_is_found(body: str, code: str) -> None:
    assert extract_code(body) == code


@pytest.mark.parametrize("body", ["", "Welcome to the service!", "Pay 12 USD", "abc12345def"])
def test_no_code_when_there_is_none(body: str) -> None:
    assert extract_code(body) is None
