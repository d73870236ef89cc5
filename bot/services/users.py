"""Who is talking to the bot: their profile, language, reachability and chat state.

The chat state (``User.dialog``: what typed text means now, search strings, history cursors)
lives in the database and is read with the profile for every update, so the next update of
a user may be handled by any replica.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.i18n import LANGUAGES, negotiate
from bot.store import Store, User


class UserService:
    """Profiles: created on first contact, language chosen or negotiated, chat state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def enter(
        self, user_id: int, language_code: str | None, *, writes: bool
    ) -> tuple[User, bool]:
        """The user's profile for an update, created on first contact.

        Args:
            user_id: Telegram user id.
            language_code: Telegram's ``language_code`` (used until they choose one).
            writes: The user wrote to the bot (not just an event about them): a chat marked
                unreachable is reachable again.

        Returns:
            The profile, and whether this update created it (the first contact, when the
            chat's command menu may need setting).
        """
        profile, created = await self._store.get_or_create_user(user_id, negotiate(language_code))
        if writes and not profile.chat_active:
            await self._store.set_chat_active(user_id, True)
            profile = await self._store.get_user(user_id) or profile
        return profile, created

    async def get(self, user_id: int) -> User | None:
        return await self._store.get_user(user_id)

    async def set_language(self, user_id: int, language: str) -> bool:
        """Store the user's choice; False for a language the bot does not speak."""
        if language not in LANGUAGES:
            return False
        await self._store.set_language(user_id, language)
        return True

    async def set_reachable(self, user_id: int, reachable: bool) -> None:
        """Record whether the bot can write to the user (False once they block it)."""
        await self._store.set_chat_active(user_id, reachable)

    async def save_dialog(self, user_id: int, dialog: Mapping[str, Any] | None) -> None:
        """Replace the user's chat state (None or empty: no flow in progress)."""
        await self._store.set_dialog(user_id, dict(dialog) if dialog else None)
