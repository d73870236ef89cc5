"""What every repository of the store shares: the database handle, the clock, the
statement helpers and the timestamp codec.

Every public method of a repository commits before it returns, so what it wrote survives a
crash of the process right after. Statements use ``?`` placeholders and portable SQL
(SQLite and PostgreSQL both run it); rows are read by column name. Timestamps are stored as
ISO 8601 text in UTC, with microseconds, so they sort as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from bot.store.db import Database, Dialect, Params, Row

__all__ = ["TOKEN_BYTES", "Clock", "Repository", "dt", "opt_dt", "opt_ts", "ts"]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""

TOKEN_BYTES: Final = 9  # 12 URL-safe characters: 72 random bits, tiny in callback_data


def ts(moment: datetime) -> str:
    """``moment`` as stored: UTC ISO 8601 text with microseconds."""
    if moment.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def opt_ts(moment: datetime | None) -> str | None:
    return None if moment is None else ts(moment)


def dt(text: str) -> datetime:
    """A stored timestamp back as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def opt_dt(text: str | None) -> datetime | None:
    return None if text is None else dt(text)


def _system_clock() -> datetime:
    return datetime.now(UTC)


class Repository:
    """The database and the clock; :class:`bot.store.Store` combines the repositories."""

    __slots__ = ("_clock", "_db", "_last_now")

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        """Wrap ``db``, whose schema must be up to date (see :func:`bot.store.migrations.migrate`).

        Args:
            db: The database.
            clock: The current time (default: the system clock); tests move it.
        """
        self._db = db
        self._clock: Clock = clock or _system_clock
        self._last_now = datetime.min.replace(tzinfo=UTC)

    @property
    def dialect(self) -> Dialect:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    def _now(self) -> datetime:
        """Current UTC time, strictly increasing within this store.

        Two writes in the same clock tick still get distinct, ordered timestamps, which
        keeps "newest first" queries deterministic.
        """
        now = self._clock().astimezone(UTC)
        if now <= self._last_now:
            now = self._last_now + timedelta(microseconds=1)
        self._last_now = now
        return now

    async def _fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._db.fetch(sql, params)

    async def _fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._db.fetch_one(sql, params)

    async def _write(self, sql: str, params: Params = ()) -> int:
        """Run one data-changing statement in its own transaction; return the rows changed."""
        return await self._db.execute(sql, params)

    async def _write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._db.fetch_returning(sql, params)
