"""The typed ``CallbackContext`` every handler receives.

Handlers read ``context.services`` (built once at start, see :mod:`bot.core`), ``context.t``
(the translator of the user being served), ``context.profile`` (their row in the database,
read for this update) and ``context.dialog`` (their chat state, part of that row), never
``bot_data`` directly, so no handler casts anything.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.core import Services
from bot.i18n import Translator, get_translator
from bot.ratelimit import SendPolicy
from bot.services.users import Dialog
from bot.store import User


class BotData:
    """``application.bot_data``: holds :class:`Services` once the process has built them."""

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def attached(self) -> bool:
        """Whether the services are attached (not yet while the application is built)."""
        return self._services is not None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not attached to the application yet")
        return self._services

    @services.setter
    def services(self, value: Services) -> None:
        self._services = value


class Context(CallbackContext[ExtBot[SendPolicy], dict[Any, Any], dict[Any, Any], BotData]):
    """The bot's context: typed services, the user's profile, chat state and translator."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id, user_id)
        self.profile: User | None = None

    @property
    def services(self) -> Services:
        return self.bot_data.services

    @property
    def user_id(self) -> int:
        """The id of the user being served (the guard stops updates without one)."""
        if self.profile is None:
            raise RuntimeError("no profile: the guard has not run for this update")
        return self.profile.telegram_id

    @property
    def dialog(self) -> Dialog:
        """The user's chat state (change it with ``bot.handlers.common.remember``)."""
        return Dialog.read(self.profile.dialog) if self.profile else Dialog()

    @property
    def t(self) -> Translator:
        """The translator in the served user's language (English before they have one)."""
        language = self.profile.language if self.profile and self.profile.language else "en"
        return get_translator(language)
