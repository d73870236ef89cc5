"""Finding the verification code inside an SMS body."""

from __future__ import annotations

import re

# Groups of digits, possibly split by one space or dash ("123 456", "123-456"), 4–8 digits in
# all, not glued to other digits or letters (so phone numbers and prices are skipped).
_CANDIDATE = re.compile(r"(?<![\w+])(\d{3,4}[ -]\d{3,4}|\d{4,8})(?![\w])")
_KEYWORD = re.compile(r"code|kod|код|código|codice|验证码|码", re.IGNORECASE)


def extract_code(body: str) -> str | None:
    """Return the most likely verification code in ``body``, digits only, or None.

    When several numbers appear, the one closest after a word such as "code" wins, else the
    first one.
    """
    candidates = list(_CANDIDATE.finditer(body))
    if not candidates:
        return None
    keyword = _KEYWORD.search(body)
    chosen = candidates[0]
    if keyword:
        after = [m for m in candidates if m.start() >= keyword.end()]
        if after:
            chosen = after[0]
    return re.sub(r"\D", "", chosen.group(1))
