"""Users: their language, encrypted API key, chat reachability, chat state (the dialog),
recently ordered services and whether they muted announcements."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any, Final

from bot.store.base import Repository, dt, opt_dt, ts
from bot.store.coordination import POLLED_BY, polled_by_args
from bot.store.db import Row
from bot.store.models import User

__all__ = ["SEEN_EVERY", "UsersRepository"]

SEEN_EVERY: Final = timedelta(hours=1)
"""``users.last_seen_at`` is rewritten at most this often per user."""


def _dialog_text(dialog: Mapping[str, Any] | None) -> str | None:
    """``dialog`` as JSON text (None when empty), refusing what JSON would change.

    ``json`` silently turns int keys into strings and tuples into lists; storing such a
    state would hand the handlers different values on the next update.
    """
    if not dialog:
        return None
    plain = dict(dialog)
    text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    if json.loads(text) != plain:
        raise TypeError("the dialog does not survive a JSON round trip; use str keys and lists")
    return text


def _dialog(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _user(row: Row) -> User:
    return User(
        telegram_id=row["telegram_id"],
        language=row["language"],
        key_cipher=row["key_cipher"],
        key_fingerprint=row["key_fingerprint"],
        display_name=row["display_name"],
        chat_active=bool(row["chat_active"]),
        key_revoked=bool(row["key_revoked"]),
        created_at=dt(row["created_at"]),
        updated_at=dt(row["updated_at"]),
        dialog=_dialog(row["dialog"]),
        announcements_muted=bool(row["announcements_muted"]),
        last_seen_at=opt_dt(row["last_seen_at"]),
        auto_replace=bool(row["auto_replace"]),
    )


class UsersRepository(Repository):
    """The ``users`` and ``recent_services`` tables."""

    __slots__ = ()

    async def ensure_user(self, telegram_id: int, language: str | None) -> User:
        """Return the user, creating it if absent (see `get_or_create_user`)."""
        user, _ = await self.get_or_create_user(telegram_id, language)
        return user

    async def get_or_create_user(self, telegram_id: int, language: str | None) -> tuple[User, bool]:
        """Return the user and whether this call created it.

        An existing language is never overwritten; ``language`` only fills a missing one.
        The common case (a known user with a language) is one read, no write transaction:
        this runs for every update the bot gets. A row is ours when its ``created_at`` is
        the timestamp this call wrote (the store's clock never repeats one), so of two
        replicas inserting the same new user at once only one says it created it.
        """
        known = await self.get_user(telegram_id)
        if known is not None and (known.language is not None or language is None):
            return await self._seen(known), False
        now = ts(self._now())
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO users (telegram_id, language, created_at, updated_at, last_seen_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (telegram_id) DO UPDATE"
                " SET language = excluded.language, updated_at = excluded.updated_at"
                " WHERE users.language IS NULL AND excluded.language IS NOT NULL",
                (telegram_id, language, now, now, now),
            )
            row = await tx.fetch_one("SELECT * FROM users WHERE telegram_id = ?", (telegram_id,))
        assert row is not None  # inserted or kept by the statement above
        return _user(row), row["created_at"] == now

    async def _seen(self, user: User) -> User:
        """Record that the user is active, at most once per :data:`SEEN_EVERY` (one write an
        hour per user, so "active in the last 24 h" costs normal updates nothing)."""
        now = self._clock().astimezone(UTC)
        if user.last_seen_at is not None and now - user.last_seen_at < SEEN_EVERY:
            return user
        await self._write(
            "UPDATE users SET last_seen_at = ? WHERE telegram_id = ?", (ts(now), user.telegram_id)
        )
        return replace(user, last_seen_at=now)

    async def get_user(self, telegram_id: int) -> User | None:
        row = await self._fetch_one("SELECT * FROM users WHERE telegram_id = ?", (telegram_id,))
        return None if row is None else _user(row)

    async def users_polled_by(self, replica: str) -> dict[int, User]:
        """The users whose keys ``replica`` polls (holds the poll lease of), by id: one query
        for a whole round instead of one per key."""
        rows = await self._fetch(
            f"SELECT * FROM users WHERE telegram_id IN ({POLLED_BY})",  # noqa: S608 (constant)
            polled_by_args(replica, self._now()),
        )
        return {row["telegram_id"]: _user(row) for row in rows}

    async def set_language(self, telegram_id: int, language: str | None) -> None:
        """Set the user's language (``None``: follow Telegram's). No-op for unknown users."""
        await self._write(
            "UPDATE users SET language = ?, updated_at = ? WHERE telegram_id = ?",
            (language, ts(self._now()), telegram_id),
        )

    async def set_key(
        self, telegram_id: int, cipher: bytes, fingerprint: str, display_name: str | None
    ) -> None:
        """Store the user's encrypted API key and clear ``key_revoked``.

        No-op for unknown users: call :meth:`ensure_user` first.
        """
        await self._write(
            "UPDATE users SET key_cipher = ?, key_fingerprint = ?, display_name = ?,"
            " key_revoked = 0, updated_at = ? WHERE telegram_id = ?",
            (cipher, fingerprint, display_name, ts(self._now()), telegram_id),
        )

    async def clear_key(self, telegram_id: int) -> None:
        """Forget the user's API key (and the account name and revoked flag tied to it)."""
        await self._write(
            "UPDATE users SET key_cipher = NULL, key_fingerprint = NULL, display_name = NULL,"
            " key_revoked = 0, updated_at = ? WHERE telegram_id = ?",
            (ts(self._now()), telegram_id),
        )

    async def record_secret_check(self, value: str) -> str:
        """Record ``value`` as the encryption secret's check value unless one is recorded.

        Returns:
            The check value the database holds now: ``value`` when this call recorded it
            (or an equal one was there), another one when a different secret came first.
        """
        await self._write(
            "INSERT INTO secret_check (id, value, recorded_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (value, ts(self._now())),
        )
        row = await self._fetch_one("SELECT value FROM secret_check WHERE id = 1")
        assert row is not None, "the row was just written"
        return str(row["value"])

    async def erase_keys(self) -> int:
        """Erase every stored key and the secret's check value; return the keys erased.

        For an operator who lost the encryption secret for good (the keys are unreadable):
        users are asked to link their keys again, and the next start records the new secret.
        """
        async with self._db.transaction() as tx:
            erased = await tx.execute(
                "UPDATE users SET key_cipher = NULL, key_fingerprint = NULL, display_name = NULL,"
                " key_revoked = 0, updated_at = ? WHERE key_cipher IS NOT NULL",
                (ts(self._now()),),
            )
            await tx.execute("DELETE FROM secret_check")
        return erased

    async def secret_check(self) -> str | None:
        """The recorded check value of the encryption secret, or None before the first start."""
        row = await self._fetch_one("SELECT value FROM secret_check WHERE id = 1")
        return None if row is None else str(row["value"])

    async def sample_keys(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` stored keys as (user id, ciphertext), to test a secret on."""
        rows = await self._fetch(
            "SELECT telegram_id, key_cipher FROM users WHERE key_cipher IS NOT NULL"
            " ORDER BY telegram_id LIMIT ?",
            (limit,),
        )
        return [(int(row["telegram_id"]), bytes(row["key_cipher"])) for row in rows]

    async def set_chat_active(self, telegram_id: int, active: bool) -> None:
        """Record whether the bot can write to the user (False once they block it)."""
        await self._write(
            "UPDATE users SET chat_active = ?, updated_at = ? WHERE telegram_id = ?",
            (int(active), ts(self._now()), telegram_id),
        )

    async def set_key_revoked(self, telegram_id: int, *, fingerprint: str | None = None) -> bool:
        """Flag the user's key as revoked by the API.

        Args:
            telegram_id: The user.
            fingerprint: If given, only flag when it is still the stored key's fingerprint,
                so a 401 for an old key cannot flag a key the user has just replaced.

        Returns:
            True only for the call that set the flag, so the user is told once.
        """
        changed = await self._write(
            "UPDATE users SET key_revoked = 1, updated_at = ?"
            # A stored key always has a fingerprint (CHECK in migration 1), so COALESCE
            # matches any key when ``fingerprint`` is None.
            " WHERE telegram_id = ? AND key_revoked = 0 AND key_cipher IS NOT NULL"
            " AND key_fingerprint = COALESCE(?, key_fingerprint)",
            (ts(self._now()), telegram_id, fingerprint),
        )
        return changed == 1

    async def users_count(self) -> int:
        row = await self._fetch_one("SELECT COUNT(*) AS n FROM users")
        return 0 if row is None else int(row["n"])

    async def touch_service(self, user_id: int, service: str) -> None:
        """Record that the user just ordered ``service`` (for quick-pick buttons)."""
        await self._write(
            "INSERT INTO recent_services (user_id, service, used_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, service) DO UPDATE SET used_at = excluded.used_at",
            (user_id, service, ts(self._now())),
        )

    async def recent_services(self, user_id: int, limit: int = 5) -> list[str]:
        """Service codes the user ordered, most recent first."""
        rows = await self._fetch(
            "SELECT service FROM recent_services WHERE user_id = ? ORDER BY used_at DESC LIMIT ?",
            (user_id, limit),
        )
        return [row["service"] for row in rows]

    async def set_dialog(self, user_id: int, dialog: Mapping[str, Any] | None) -> None:
        """Replace the user's chat state (``User.dialog``); None or empty clears it.

        Raises:
            TypeError: ``dialog`` would not come back equal from JSON (non-str keys,
                tuples, sets, objects): refused rather than silently changed.
        """
        text = _dialog_text(dialog)
        await self._write(
            "UPDATE users SET dialog = ?, updated_at = ? WHERE telegram_id = ?",
            (text, ts(self._now()), user_id),
        )

    async def set_announcements_muted(self, telegram_id: int, muted: bool) -> bool:
        """Mute (or unmute) the user's announcements. True if that changed something."""
        changed = await self._write(
            "UPDATE users SET announcements_muted = ?, updated_at = ?"
            " WHERE telegram_id = ? AND announcements_muted <> ?",
            (int(muted), ts(self._now()), telegram_id, int(muted)),
        )
        return changed == 1
