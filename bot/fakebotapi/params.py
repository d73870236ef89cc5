"""Call arguments, normalised the way the Bot API server sees them: as strings.

The real server accepts a query string, ``application/x-www-form-urlencoded``,
``multipart/form-data`` or a JSON object.  Whatever the transport, each argument ends up as a
string: JSON strings as they are, other JSON values re-encoded (``true``, ``42``, nested
objects as JSON text).  python-telegram-bot sends form data whose nested objects (such as
``reply_markup``) are JSON-encoded strings, which this normalisation handles the same way.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .errors import ApiError, bad_request

_INTEGER = re.compile(r"-?\d+")
_TRUE = frozenset({"true", "yes", "1"})


class Params:
    """The arguments of one call.

    Args:
        values: Argument name to string value.
        files: Uploaded files (multipart), name to ``(filename, content)``.
    """

    def __init__(self, values: dict[str, str], files: dict[str, tuple[str, bytes]]) -> None:
        self.values = values
        self.files = files

    @classmethod
    async def from_request(cls, request: web.Request) -> Params:
        """Collect query-string and body arguments of any supported content type."""
        values = dict(request.query)
        files: dict[str, tuple[str, bytes]] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = json.loads(await request.text() or "{}")
                except ValueError as exc:
                    raise bad_request("Bad Request: can't parse JSON object") from exc
                if not isinstance(body, dict):
                    raise bad_request("Bad Request: JSON object expected")
                values.update({k: _as_string(v) for k, v in body.items() if v is not None})
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        files[key] = (value.filename, value.file.read())
                    elif isinstance(value, str):
                        values[key] = value
                    else:  # a multipart part without a charset arrives as bytes
                        values[key] = bytes(value).decode("utf-8", "replace")
        return cls(values, files)

    def has(self, name: str) -> bool:
        """Whether the argument is present and non-empty (the server's notion of "given")."""
        return bool(self.values.get(name))

    def string(self, name: str) -> str:
        """The argument, or ``""`` when absent."""
        return self.values.get(name, "")

    def integer(self, name: str, default: int = 0) -> int:
        """Parse like TDLib's ``to_integer``: a leading ``-?digits`` prefix, else 0."""
        raw = self.values.get(name)
        if not raw:
            return default
        match = _INTEGER.match(raw)
        return int(match.group()) if match else 0

    def boolean(self, name: str) -> bool:
        """``true``, ``yes`` and ``1`` (any case, trimmed) are true; anything else is false."""
        return self.values.get(name, "").strip().lower() in _TRUE

    def json(self, name: str, error: str) -> Any:
        """Decode a JSON-valued argument; None when absent.

        Raises:
            ApiError: ``error`` (a full ``Bad Request: ...`` description) on malformed JSON.
        """
        raw = self.values.get(name)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, error) from exc


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
