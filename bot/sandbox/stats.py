"""What the sandbox saw: one record per API request, and totals from them."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from bot.sandbox.ratelimit import Bucket


def key_fingerprint(key: str) -> str:
    """A short stable name for an API key, safe to log and show (not the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(slots=True)
class RequestRecord:
    """One API request.

    Attributes:
        at: When it arrived (server clock, after any injected latency).
        key_fp: Fingerprint of the key it carried (see :func:`key_fingerprint`).
        method: HTTP method.
        path: Path, e.g. ``/api/v1/orders``.
        bucket: Rate-limit bucket, ``None`` for unknown routes.
        status: HTTP status answered; ``None`` while in progress, or when the
            connection was dropped without an answer.
    """

    at: float
    key_fp: str | None
    method: str
    path: str
    bucket: Bucket | None
    status: int | None = None


class RequestLog(list[RequestRecord]):
    """Every API request in arrival order, with summaries for tests and benchmarks."""

    def for_key(self, key: str) -> list[RequestRecord]:
        """The records of one key."""
        fingerprint = key_fingerprint(key)
        return [record for record in self if record.key_fp == fingerprint]

    def peak(self, key: str, bucket: Bucket, window: float = 60.0) -> int:
        """The most requests of a key and bucket that arrived within any ``window`` seconds.

        Refused (429) requests count too, since the client did send them: a
        client that respects the limits has a peak no higher than the limit.
        """
        times = [record.at for record in self.for_key(key) if record.bucket is bucket]
        best = start = 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def summary(self) -> dict[str, Any]:
        """Requests per key fingerprint and bucket (429s included), and 429 totals."""
        requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        limited: Counter[str] = Counter()
        for record in self:
            if record.key_fp is None or record.bucket is None:
                continue
            requests[record.key_fp][record.bucket.value] += 1
            if record.status == 429:
                limited[record.key_fp] += 1
        return {
            "requests": {
                fp: {"read": counts["read"], "write": counts["write"]}
                for fp, counts in requests.items()
            },
            "rateLimited": limited.total(),
            "rateLimitedByKey": dict(limited),
        }
