"""Configuration of the sandbox API."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


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
        never_deliver: Country ids whose numbers never get an SMS (they expire refunded).
        slow_deliver: Country ids whose SMS arrive ``slow_sms_delay`` s after create.
        slow_sms_delay: See ``slow_deliver``.
        rising_prices: Country ids where every sale raises the price by
            ``price_rise_percent`` (at least a cent): a price quoted before a sale is stale.
        price_rise_percent: See ``rising_prices``.
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
    never_deliver: frozenset[int] = field(default_factory=frozenset)
    slow_deliver: frozenset[int] = field(default_factory=frozenset)
    slow_sms_delay: float = 150.0
    rising_prices: frozenset[int] = field(default_factory=frozenset)
    price_rise_percent: int = 20

    def __post_init__(self) -> None:
        if self.rate_window <= 0 or self.read_limit < 1 or self.write_limit < 1:
            raise ValueError("rate limits need a positive window and limits of at least 1")
        if self.order_ttl <= 0:
            raise ValueError("order_ttl must be positive")
        delays = (self.sms_delay or 0.0, self.hang_seconds, self.list_lag, self.slow_sms_delay)
        if min(delays) < 0 or self.auto_balance_cents < 0 or self.price_rise_percent < 0:
            raise ValueError("delays, balances and price rises must not be negative")

    def with_trouble(self) -> SandboxConfig:
        """This configuration with countries that misbehave: what ``--sandbox`` and the
        playground run, so that delivery rates, their ranking and the price guard can be
        tried. With seed 1, among Telegram's cheapest countries: Poland (15) and Guinea
        (68) never deliver, Romania (32) is slow, Nicaragua's (90) price rises with every
        sale."""
        return replace(
            self,
            never_deliver=frozenset({15, 68}),
            slow_deliver=frozenset({32}),
            rising_prices=frozenset({90}),
        )
