"""Errors answered to the bot, with the descriptions the real Bot API uses.

The strings below were checked against the official documentation, the sources of
``tdlib/telegram-bot-api`` and TDLib (``MessageEntity.cpp``) and reports of real answers.
Where Telegram has no equivalent (a rule this fake enforces more strictly than Telegram),
the description says so explicitly with the ``FAKE_STRICT`` marker, so that nobody mistakes
it for a real Telegram message.
"""

from __future__ import annotations

from typing import Any

FAKE_STRICT = "[fake Bot API strictness]"

MESSAGE_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
MESSAGE_TEXT_EMPTY = "Bad Request: message text is empty"
MESSAGE_TOO_LONG = "Bad Request: message is too long"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
BUTTON_URL_INVALID = "Bad Request: BUTTON_URL_INVALID"
BUTTON_TEXT_INVALID = "Bad Request: BUTTON_TEXT_INVALID"
# Telegram answers REPLY_MARKUP_TOO_LONG; the Bot API server rewords it (Client.cpp).
REPLY_MARKUP_TOO_LONG = "Bad Request: reply markup is too long"
MESSAGE_TO_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
MESSAGE_CANT_BE_EDITED = "Bad Request: message can't be edited"
MESSAGE_TO_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
MESSAGE_CANT_BE_DELETED = "Bad Request: message can't be deleted"
MESSAGE_CANT_BE_DELETED_FOR_EVERYONE = "Bad Request: message can't be deleted for everyone"
MESSAGE_TO_REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
MESSAGE_ID_NOT_SPECIFIED = "Bad Request: message identifier is not specified"
CHAT_NOT_FOUND = "Bad Request: chat not found"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CALLBACK_ANSWER_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
WRONG_CHAT_ACTION = "Bad Request: wrong parameter action in request"
BOT_COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
BOT_COMMAND_DESCRIPTION_INVALID = "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
BOT_COMMANDS_TOO_MUCH = "Bad Request: BOT_COMMANDS_TOO_MUCH"
# TDLib checks bot language codes itself (validate_bot_language_code): "" or two a-z letters.
LANG_CODE_INVALID = "Bad Request: invalid language code specified"
BLOCKED_BY_USER = "Forbidden: bot was blocked by the user"
USER_DEACTIVATED = "Forbidden: user is deactivated"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
GET_UPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
GET_UPDATES_WHILE_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
TERMINATED_BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
SECRET_TOO_LONG = "Bad Request: secret token is too long"  # noqa: S105 - an error text
SECRET_UNALLOWED_CHARACTERS = "Bad Request: secret token contains unallowed characters"  # noqa: S105 - an error text
# Inline web_app buttons outside private chats (seen in reports of real answers).
BUTTON_TYPE_INVALID = "Bad Request: BUTTON_TYPE_INVALID"


def web_app_url_invalid(where: str, url: str) -> ApiError:
    """A Web App URL that is not ``https``, e.g. ``inline keyboard button Web App URL 'http://x'
    is invalid: Only HTTPS links are allowed`` (``where`` names the button)."""
    return ApiError(
        400, f"Bad Request: {where} Web App URL '{url}' is invalid: Only HTTPS links are allowed"
    )


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": ...}``.

    Args:
        code: HTTP status and ``error_code``.
        description: Telegram's description, e.g. ``"Bad Request: chat not found"``.
        retry_after: Seconds for ``parameters.retry_after`` (flood control only).
    """

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        """The JSON body Telegram answers with."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    """A 400 error; ``description`` must already carry the ``Bad Request: `` prefix."""
    return ApiError(400, description)


def forbidden(description: str) -> ApiError:
    """A 403 error; ``description`` must already carry the ``Forbidden: `` prefix."""
    return ApiError(403, description)


def cant_parse_entities(reason: str) -> ApiError:
    """The answer to malformed HTML, e.g. ``Unsupported start tag "div" at byte offset 0``."""
    return ApiError(400, f"Bad Request: can't parse entities: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    """Flood control: ``429 Too Many Requests: retry after N``."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
