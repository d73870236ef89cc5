"""Exceptions raised by the jiema API client.

The hierarchy is keyed by the API's error codes so callers can ``except`` the business
errors they handle (``InsufficientBalanceError``, ``NoNumbersError``, …) and map the rest
by HTTP status. Unknown codes are preserved: ``ApiError.code`` holds what the server said.
No exception here ever carries the API key.
"""

from __future__ import annotations


class JiemaError(Exception):
    """Base class for every error the client raises."""


class ApiError(JiemaError):
    """The server answered with an error body (``{"ok": false, "code", "message"}``).

    Attributes:
        status: HTTP status code.
        code: The API's error code, e.g. ``"INSUFFICIENT"``; unknown codes are kept as sent.
        message: The server's human-readable message (never shown unescaped).
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class AuthError(ApiError):
    """401: the key is missing, unknown or revoked."""


class ForbiddenError(ApiError):
    """403: the account is banned or has no access."""


class NotFoundError(ApiError):
    """404: the order does not exist or belongs to another account."""


class RateLimitedError(ApiError):
    """429: the per-key limit was hit; ``retry_after`` is in seconds when the server said."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class BusyError(JiemaError):
    """No slot of the key's rate budget frees within the caller's bounded wait, so the
    request was not sent (never retried: ``retry_after`` seconds is when a slot should)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"busy for {retry_after}s")
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the service failed; the request may be retried if it is idempotent."""


class BadRequestError(ApiError):
    """400 with a code this client has no dedicated class for."""


class InsufficientBalanceError(BadRequestError):
    """``INSUFFICIENT``: the balance does not cover the price."""


class NoNumbersError(BadRequestError):
    """``NO_NUMBERS``: no number in stock for this service and country."""


class BadServiceError(BadRequestError):
    """``BAD_SERVICE``: unknown service."""


class BadCountryError(BadRequestError):
    """``BAD_COUNTRY``: unknown country, or not offered for the service."""


class CodeReceivedError(BadRequestError):
    """``CODE_RECEIVED``: the order already received an SMS and cannot be cancelled."""


class AlreadyChangedError(BadRequestError):
    """``ALREADY_CHANGED``: the order's status changed concurrently."""


class TransportError(JiemaError):
    """No answer was read: timeout, refused or dropped connection.

    For a write, the server may or may not have acted on the request.
    """


class ApiTimeoutError(TransportError):
    """The request timed out."""


class MalformedResponseError(JiemaError):
    """The answer was not the JSON the spec describes (bad JSON, missing or mistyped field)."""


_BY_CODE: dict[str, type[ApiError]] = {
    "AUTH_MISSING": AuthError,
    "AUTH_INVALID": AuthError,
    "FORBIDDEN": ForbiddenError,
    "NOT_FOUND": NotFoundError,
    "RATE_LIMITED": RateLimitedError,
    "INTERNAL": ServerError,
    "INSUFFICIENT": InsufficientBalanceError,
    "NO_NUMBERS": NoNumbersError,
    "BAD_SERVICE": BadServiceError,
    "BAD_COUNTRY": BadCountryError,
    "CODE_RECEIVED": CodeReceivedError,
    "ALREADY_CHANGED": AlreadyChangedError,
}

_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitedError,
}


def error_for(status: int, code: str, message: str, retry_after: float | None = None) -> ApiError:
    """Build the most specific exception for an error answer.

    The code decides first; an unknown code falls back to the HTTP status, so a new
    business error (``400 SOMETHING_NEW``) is still a ``BadRequestError`` carrying its code.
    """
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else BadRequestError
    if issubclass(cls, RateLimitedError):
        return cls(status, code, message, retry_after)
    return cls(status, code, message)
