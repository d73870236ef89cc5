"""python-telegram-bot persistence kept in the bot's SQLite database."""

from __future__ import annotations

import json
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from bot.store.store import Store

__all__ = ["SqlitePersistence"]

_Data = dict[Any, Any]
# PTB's own aliases live in a private module (telegram.ext._utils.types); same shapes here.
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]


def _encode(value: object, what: str) -> str:
    """JSON-encode ``value``, refusing anything that would not come back equal.

    ``json`` silently turns int dict keys into strings and tuples into lists; persisting
    such data would hand handlers different values after a restart, so fail loudly instead
    (PTB reports the error through the application's error handlers).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if json.loads(text) != value:
        raise TypeError(f"{what} does not survive a JSON round trip; use str keys and lists")
    return text


class SqlitePersistence(BasePersistence[_Data, _Data, _Data]):
    """Keeps ConversationHandler states, ``user_data`` and ``chat_data`` across restarts.

    Writes go straight to the database (each committed before returning) whenever the
    Application hands over changes, i.e. every ``update_interval`` seconds and at shutdown.
    :meth:`flush` therefore has nothing left to write. ``bot_data`` and ``callback_data``
    are not stored. Values must be plain JSON data (dicts with str keys, lists, str, numbers,
    bools, None); conversation states must be JSON values too (ints or strs in practice).

    Args:
        store: The open database.
        update_interval: Seconds between the Application's persistence runs; small, so a
            crash loses little conversation progress.
    """

    __slots__ = ("_store",)

    def __init__(self, store: Store, *, update_interval: float = 2.0) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, callback_data=False),
            update_interval=update_interval,
        )
        self._store = store

    async def get_conversations(self, name: str) -> ConversationDict:
        stored = await self._store.load_conversations(name)
        return {tuple(json.loads(key)): json.loads(state) for key, state in stored.items()}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        state = None if new_state is None else _encode(new_state, f"state of conversation {name}")
        await self._store.save_conversation(name, _encode(list(key), "conversation key"), state)

    async def get_user_data(self) -> dict[int, _Data]:
        stored = await self._store.load_ptb_data("user")
        return {ident: json.loads(text) for ident, text in stored.items()}

    async def update_user_data(self, user_id: int, data: _Data) -> None:
        await self._store.save_ptb_data("user", user_id, _encode(data, f"user_data[{user_id}]"))

    async def refresh_user_data(self, user_id: int, user_data: _Data) -> None:
        """Nothing to refresh: this process is the only writer, its copy is the newest."""

    async def drop_user_data(self, user_id: int) -> None:
        await self._store.drop_ptb_data("user", user_id)

    async def get_chat_data(self) -> dict[int, _Data]:
        stored = await self._store.load_ptb_data("chat")
        return {ident: json.loads(text) for ident, text in stored.items()}

    async def update_chat_data(self, chat_id: int, data: _Data) -> None:
        await self._store.save_ptb_data("chat", chat_id, _encode(data, f"chat_data[{chat_id}]"))

    async def refresh_chat_data(self, chat_id: int, chat_data: _Data) -> None:
        """Nothing to refresh: this process is the only writer, its copy is the newest."""

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._store.drop_ptb_data("chat", chat_id)

    async def get_bot_data(self) -> _Data:
        """Not stored (``store_data.bot_data`` is False): always empty."""
        return {}

    async def update_bot_data(self, data: _Data) -> None:
        """Not stored (``store_data.bot_data`` is False)."""

    async def refresh_bot_data(self, bot_data: _Data) -> None:
        """Not stored (``store_data.bot_data`` is False)."""

    async def get_callback_data(self) -> CDCData | None:
        """Not stored (``store_data.callback_data`` is False)."""
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        """Not stored (``store_data.callback_data`` is False)."""

    async def flush(self) -> None:
        """Nothing is buffered: every update was committed when it was handed over."""
