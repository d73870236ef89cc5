"""The typed ``CallbackContext`` every handler receives.

Handlers read ``context.services`` (built once in ``post_init``), ``context.t`` (the
translator of the user being served) and ``context.profile`` (their row in SQLite), never
``bot_data`` directly, so no handler casts anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.api import JiemaClient
from bot.config import Settings
from bot.i18n import Translator, get_translator
from bot.notifier import TelegramNotifier
from bot.poller import Poller
from bot.services.accounts import AccountService
from bot.services.catalog import Catalog
from bot.services.orders import OrderService
from bot.services.purchases import PurchaseService
from bot.store import Store, User
from bot.tracker import OrderTracker


@dataclass(slots=True)
class Services:
    """Everything handlers and jobs use, owned by the application (see ``bot.app``)."""

    settings: Settings
    api: JiemaClient
    store: Store
    accounts: AccountService
    catalog: Catalog
    purchases: PurchaseService
    orders: OrderService
    notifier: TelegramNotifier
    tracker: OrderTracker
    poller: Poller


class BotData:
    """``application.bot_data``: holds :class:`Services` once ``post_init`` has run."""

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not started yet (post_init has not run)")
        return self._services

    @services.setter
    def services(self, value: Services) -> None:
        self._services = value


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The bot's context: typed services, the user's profile and translator."""

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
    def t(self) -> Translator:
        """The translator in the served user's language (English before they have one)."""
        language = self.profile.language if self.profile and self.profile.language else "en"
        return get_translator(language)
