"""Configuration of the sandbox API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Start-up settings of a :class:`~bot.sandbox.SandboxServer`.

    Times are seconds of the server's clock. Rate limits, list lag, latency and
    faults can also be changed at run time through the control API; this object
    only gives their initial values.

    Attributes:
        seed: Seed of the catalogue and of every generated id, phone and code.
        sms_delay: Seconds from create (or next-sms) until the SMS arrives;
            ``None`` means an SMS only arrives when a test delivers one.
        order_ttl: Lifetime of an order; ``expiresAt`` is creation + this.
        rate_window: Length of the sliding rate-limit window.
        read_limit: Read requests allowed per key and window.
        write_limit: Write requests (create, cancel, next-sms) per key and window.
        hang_seconds: How long a ``timeout`` fault holds its response.
        auto_accounts: Give any well-formed unknown key a fresh funded account.
        auto_balance_cents: Balance of accounts made by ``auto_accounts``.
        list_lag: Seconds by which ``GET /v1/orders`` trails the orders' state.
    """

    seed: int = 1
    sms_delay: float | None = 15.0
    order_ttl: float = 20 * 60.0
    rate_window: float = 60.0
    read_limit: int = 60
    write_limit: int = 10
    hang_seconds: float = 30.0
    auto_accounts: bool = False
    auto_balance_cents: int = 1000
    list_lag: float = 0.0
