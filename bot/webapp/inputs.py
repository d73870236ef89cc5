"""What the Mini App accepts as input, checked before anything costs a lookup.

Every value a request carries is matched against its pattern and length here, before it
reaches a cache, a lock, the database or the API: ids and codes have the shape the chat's
buttons use (:mod:`bot.callbacks`, one definition), and a history cursor the shape of the
API's opaque cursors.
"""

from __future__ import annotations

import re
from typing import Final, TypeGuard

from bot.callbacks import COUNTRY, ID

_ID: Final = re.compile(ID)
_COUNTRY: Final = re.compile(COUNTRY)
_CURSOR: Final = re.compile(r"[A-Za-z0-9_.~=+/-]{1,256}")


def is_id(value: object) -> TypeGuard[str]:
    """A service code, order id, purchase token or alert id."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def country_id(value: object) -> int | None:
    """A country's numeric id, as JSON number or path segment; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _COUNTRY.fullmatch(value):
        return int(value)
    return None


def is_cursor(value: str) -> bool:
    """A history page's cursor as the API hands them out."""
    return _CURSOR.fullmatch(value) is not None
