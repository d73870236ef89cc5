"""The failures the front ends explain, named where the front ends look for them.

The chat's views and the Mini App's error mapping depend on the services alone (see
ARCHITECTURE.md): the API's errors (:mod:`bot.api.errors`) and the store's are re-exported
here, with the services' own (a key not linked, or unreadable).
"""

from bot.api.errors import (
    AlreadyChangedError,
    ApiError,
    AuthError,
    BadCountryError,
    BadServiceError,
    BusyError,
    CodeReceivedError,
    ForbiddenError,
    InsufficientBalanceError,
    JiemaError,
    MalformedResponseError,
    NoNumbersError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from bot.services.accounts import KeyUnreadableError, NotLinkedError
from bot.store.errors import StoreUnavailableError

__all__ = [
    "AlreadyChangedError",
    "ApiError",
    "AuthError",
    "BadCountryError",
    "BadServiceError",
    "BusyError",
    "CodeReceivedError",
    "ForbiddenError",
    "InsufficientBalanceError",
    "JiemaError",
    "KeyUnreadableError",
    "MalformedResponseError",
    "NoNumbersError",
    "NotFoundError",
    "NotLinkedError",
    "RateLimitedError",
    "ServerError",
    "StoreUnavailableError",
    "TransportError",
]
