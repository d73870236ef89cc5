"""Start-up settings."""

import pytest

from bot.sandbox import SandboxConfig


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"read_limit": 0}, "rate limits"),
        ({"rate_window": 0}, "rate limits"),
        ({"order_ttl": 0}, "order_ttl"),
        ({"sms_delay": -1}, "negative"),
        ({"list_lag": -1}, "negative"),
    ],
)
def test_config_rejects_impossible_settings(settings: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SandboxConfig(**settings)


def test_config_defaults_follow_the_spec() -> None:
    config = SandboxConfig()
    assert (config.rate_window, config.read_limit, config.write_limit) == (60.0, 60, 10)
    assert config.order_ttl == 1200.0
    assert config.auto_accounts is False
