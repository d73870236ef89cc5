import json
import sqlite3
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, RequestData

from bot.store import SqlitePersistence, Store

from .conftest import USER

CHAT = USER
ASK_NAME, ASK_AGE = 1, 2


class OfflineRequest(BaseRequest):
    """Answers the Bot API locally (getMe only), so an Application runs without network."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = None,
        write_timeout: object = None,
        connect_timeout: object = None,
        pool_timeout: object = None,
    ) -> tuple[int, bytes]:
        assert url.endswith("/getMe"), url
        me = {"id": 1, "is_bot": True, "first_name": "Test", "username": "test_bot"}
        return 200, json.dumps({"ok": True, "result": me}).encode()


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    assert context.chat_data is not None
    context.user_data["started"] = True
    context.chat_data["visits"] = context.chat_data.get("visits", 0) + 1
    return ASK_NAME


async def got_name(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    assert update.message is not None
    context.user_data["name"] = update.message.text
    return ASK_AGE


async def got_age(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    assert update.message is not None
    context.user_data["age"] = int(update.message.text or "0")
    return ConversationHandler.END


def build_app(store: Store) -> Application:  # type: ignore[type-arg]
    app = (
        ApplicationBuilder()
        .token("123:TEST")
        .request(OfflineRequest())
        .get_updates_request(OfflineRequest())
        .persistence(SqlitePersistence(store, update_interval=0.5))
        .build()
    )
    text = filters.TEXT & ~filters.COMMAND
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={
                ASK_NAME: [MessageHandler(text, got_name)],
                ASK_AGE: [MessageHandler(text, got_age)],
            },
            fallbacks=[],
            name="signup",
            persistent=True,
        )
    )
    return app


def message(app: Application, update_id: int, text: str) -> Update:  # type: ignore[type-arg]
    data: dict[str, object] = {
        "message_id": update_id,
        "date": 1_700_000_000,
        "chat": {"id": CHAT, "type": "private"},
        "from": {"id": USER, "is_bot": False, "first_name": "Alice"},
        "text": text,
    }
    if text.startswith("/"):
        data["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return Update.de_json({"update_id": update_id, "message": data}, app.bot)


async def test_conversation_survives_a_restart(db_path: Path) -> None:
    store = await Store.open(db_path)
    app = build_app(store)
    await app.initialize()
    await app.process_update(message(app, 1, "/start"))
    await app.process_update(message(app, 2, "Alice"))
    await app.update_persistence()  # what the Application's periodic job does
    with sqlite3.connect(db_path) as conn:  # already on disk, before any shutdown
        assert conn.execute("SELECT name, key, state FROM ptb_conversations").fetchall() == [
            ("signup", f"[{CHAT},{USER}]", str(ASK_AGE))
        ]
    await app.shutdown()
    await store.close()

    store = await Store.open(db_path)
    app = build_app(store)
    await app.initialize()
    assert app.user_data[USER] == {"started": True, "name": "Alice"}
    assert app.chat_data[CHAT] == {"visits": 1}
    await app.process_update(message(app, 3, "42"))  # handled in the restored ASK_AGE state
    assert app.user_data[USER]["age"] == 42
    await app.shutdown()
    assert await store.load_conversations("signup") == {}
    await store.close()


@pytest.fixture
def persistence(store: Store) -> SqlitePersistence:
    return SqlitePersistence(store)


async def test_declares_bot_and_callback_data_unsupported(persistence: SqlitePersistence) -> None:
    assert not persistence.store_data.bot_data
    assert not persistence.store_data.callback_data
    assert persistence.store_data.user_data
    assert persistence.store_data.chat_data
    assert await persistence.get_bot_data() == {}
    assert await persistence.get_callback_data() is None
    assert SqlitePersistence.__abstractmethods__ == frozenset()


async def test_conversation_keys_and_states_round_trip(persistence: SqlitePersistence) -> None:
    await persistence.update_conversation("buy", (1, 2), 3)
    await persistence.update_conversation("buy", (1, "inline-7"), "PICK_COUNTRY")
    await persistence.update_conversation("other", (5,), 1)
    assert await persistence.get_conversations("buy") == {
        (1, 2): 3,
        (1, "inline-7"): "PICK_COUNTRY",
    }
    await persistence.update_conversation("buy", (1, 2), None)
    assert await persistence.get_conversations("buy") == {(1, "inline-7"): "PICK_COUNTRY"}
    assert await persistence.get_conversations("missing") == {}


async def test_user_and_chat_data_round_trip(persistence: SqlitePersistence) -> None:
    await persistence.update_user_data(USER, {"lang": "en", "cart": [1, 2], "nested": {"a": None}})
    await persistence.update_user_data(USER, {"lang": "it"})
    await persistence.update_chat_data(-100, {"x": 1.5})
    assert await persistence.get_user_data() == {USER: {"lang": "it"}}
    assert await persistence.get_chat_data() == {-100: {"x": 1.5}}
    await persistence.drop_user_data(USER)
    await persistence.drop_chat_data(-100)
    assert await persistence.get_user_data() == {}
    assert await persistence.get_chat_data() == {}


@pytest.mark.parametrize("data", [{1: "int key"}, {"t": (1, 2)}, {"s": {1, 2}}])
async def test_data_that_would_change_in_json_is_refused(
    persistence: SqlitePersistence, data: dict[object, object]
) -> None:
    with pytest.raises(TypeError):
        await persistence.update_user_data(USER, data)
    assert await persistence.get_user_data() == {}
