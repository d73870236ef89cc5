"""Errors of the storage layer that callers are expected to handle."""

from __future__ import annotations

__all__ = ["StoreUnavailableError"]


class StoreUnavailableError(Exception):
    """The database cannot be reached or written right now; the operation did not happen
    (or, for a lost connection during a commit, may or may not have).

    Raised instead of the backend's own error for faults that are not the caller's fault
    and may heal by themselves: SQLite's "database is locked", "disk I/O error", "database
    or disk is full"; PostgreSQL's lost or refused connections, a closed pool, "too many
    connections", an administrator's shutdown. The original error is the ``__cause__``.
    Retry later; never treat it as "not found".
    """
