from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store import Store, StoredOrder, User

USER = 1001
OTHER_USER = 2002
EXPIRES = datetime(2026, 5, 22, 8, 30, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(db_path)
    await opened.ensure_user(USER, "en")
    await opened.ensure_user(OTHER_USER, None)
    yield opened
    await opened.close()


def make_order(order_id: str = "ck1", user_id: int = USER, **changes: object) -> StoredOrder:
    created = datetime(2026, 5, 22, 8, 10, tzinfo=UTC)
    fields: dict[str, object] = {
        "id": order_id,
        "user_id": user_id,
        "key_fingerprint": "0123456789abcdef",
        "service": "tg",
        "service_name": "Telegram",
        "country_id": "7",
        "country_slug": "my",
        "phone": "+60123456789",
        "status": "WAITING",
        "expires_at": EXPIRES,
        "charged_cents": 32,
        "created_at": created,
        "updated_at": created,
    }
    fields.update(changes)
    return StoredOrder(**fields)  # type: ignore[arg-type]


async def user_of(store: Store, telegram_id: int) -> User:
    user = await store.get_user(telegram_id)
    assert user is not None
    return user


async def order_of(store: Store, order_id: str) -> StoredOrder:
    order = await store.get_order(order_id)
    assert order is not None
    return order
