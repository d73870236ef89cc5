"""Who is talking to the bot: their profile, language, reachability and chat state.

The chat state (``User.dialog``: what typed text means now, search strings, history cursors)
lives in the database and is read with the profile for every update, so the next update of
a user may be handled by any replica.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.i18n import LANGUAGES, negotiate
from bot.store import Store, User


class Mode(StrEnum):
    """What text the user types means now (the value is what the database holds)."""

    SERVICES = "services"
    """A search in the service list."""
    COUNTRIES = "countries"
    """A search in ``Dialog.country_service``'s countries."""
    CONFIRM = "confirm"
    """Nothing: a confirmation is shown, the user should tap Buy or Cancel."""
    BROADCAST = "broadcast"
    """An operator's announcement."""


@dataclass(frozen=True, slots=True)
class Dialog:
    """The user's chat state, stored as JSON with the profile (``User.dialog``).

    Attributes:
        mode: What typed text means; None outside a flow.
        service_query: The search filtering the service list.
        country_service: The service whose countries are shown (or were, before a
            confirmation).
        country_query: The search filtering that service's countries.
        history_cursors: The API cursor of each /orders page seen so far (page 0's is None).
    """

    mode: Mode | None = None
    service_query: str | None = None
    country_service: str | None = None
    country_query: str | None = None
    history_cursors: tuple[str | None, ...] = ()

    @classmethod
    def read(cls, stored: Mapping[str, Any]) -> Dialog:
        """The state as stored; a value of an unexpected kind or mode reads as absent."""

        def text(key: str) -> str | None:
            value = stored.get(key)
            return value if isinstance(value, str) else None

        cursors = stored.get("history_cursors")
        return cls(
            mode=next((mode for mode in Mode if mode == stored.get("mode")), None),
            service_query=text("service_query"),
            country_service=text("country_service"),
            country_query=text("country_query"),
            history_cursors=(
                tuple(c if isinstance(c, str) else None for c in cursors)
                if isinstance(cursors, list)
                else ()
            ),
        )

    def stored(self) -> dict[str, Any]:
        """The JSON object to store: only what is set, under the keys :meth:`read` reads."""
        state = {
            "mode": self.mode.value if self.mode else None,
            "service_query": self.service_query,
            "country_service": self.country_service,
            "country_query": self.country_query,
            "history_cursors": list(self.history_cursors) or None,
        }
        return {key: value for key, value in state.items() if value is not None}


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

    async def save_dialog(self, user_id: int, dialog: Dialog) -> None:
        """Replace the user's chat state (an empty one clears it)."""
        await self._store.set_dialog(user_id, dialog.stored() or None)
