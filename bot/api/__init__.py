"""The jiema.my API client. Knows nothing of Telegram."""

from bot.api.client import JiemaClient, RetryPolicy
from bot.api.limiter import Priority, RateLimits
from bot.api.models import Account, ApiKey, Country, Order, OrderPage, Price, Service, Sms

__all__ = [
    "Account",
    "ApiKey",
    "Country",
    "JiemaClient",
    "Order",
    "OrderPage",
    "Price",
    "Priority",
    "RateLimits",
    "RetryPolicy",
    "Service",
    "Sms",
]
