"""Injected trouble: faults for the next few matching requests, and added latency."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """What an injected fault does to the request it hits.

    * ``error500``: the request is not processed; the answer is 500 INTERNAL.
    * ``timeout``: the request is processed, then its answer is held back
      (``hang_seconds``), so a client with a shorter timeout never sees it.
    * ``drop_create``: only hits creates. The order is committed (charged,
      stock taken) and the connection is closed without any answer.
    * ``malformed``: the request is processed; the answer is 200 with a body
      that is not valid JSON (the real answer cut short).
    * ``unknown_error``: the request is not processed; the answer is 400 with a
      code no client knows and a message holding markup (the list is open).
    * ``unknown_status``: the request is processed; any ``status`` in the answer
      reads ``ON_HOLD``, a status the spec does not name.
    * ``missing_fields``: the request is processed; the answer is
      ``{"ok": true, "data": {}}``.
    """

    ERROR500 = "error500"
    TIMEOUT = "timeout"
    DROP_CREATE = "drop_create"
    MALFORMED = "malformed"
    UNKNOWN_ERROR = "unknown_error"
    UNKNOWN_STATUS = "unknown_status"
    MISSING_FIELDS = "missing_fields"


@dataclass(slots=True)
class Fault:
    """A fault for the next ``remaining`` matching requests."""

    kind: FaultKind
    remaining: int
    path: str | None = None
    key: str | None = None
    seconds: float | None = None

    def matches(self, path: str, key: str | None, is_create: bool) -> bool:
        return (
            (self.kind is not FaultKind.DROP_CREATE or is_create)
            and (self.path is None or self.path in path)
            and (self.key is None or self.key == key)
        )


class FaultPlan:
    """Pending faults, consumed in the order they were injected."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.remaining > 0:
            self._faults.append(fault)

    def take(self, path: str, key: str | None, is_create: bool) -> Fault | None:
        """Returns the first fault matching a request, using up one of its count."""
        for fault in self._faults:
            if fault.matches(path, key, is_create):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None


class Latency:
    """Seconds added before answering: one value for all keys, overridable per key."""

    def __init__(self) -> None:
        self.default = 0.0
        self._by_key: dict[str, float] = {}

    def set(self, seconds: float, key: str | None = None) -> None:
        if key is None:
            self.default = seconds
        else:
            self._by_key[key] = seconds

    def for_key(self, key: str | None) -> float:
        if key is None:
            return self.default
        return self._by_key.get(key, self.default)
