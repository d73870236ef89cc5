"""/forget erases every row about a user in one go (never while something is open), and
retention empties old SMS bodies and phone numbers; both backends, a driven clock."""

from datetime import timedelta
from typing import Any

from bot.services.privacy import ConfirmForget, ForgetRefused, Forgot, PrivacyService
from bot.store import PurchaseState, Store
from bot.store.console import RecipientState

from .conftest import OTHER_USER, USER, Backend, FakeClock, make_order, order_of
from .test_copydb import postgres_rows, sqlite_rows

DAY = timedelta(days=1)


async def tables(backend: Backend, store: Store) -> list[str]:
    if backend.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        return [row["name"] for row in await store._db.fetch(sql)]
    sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    return [row["table_name"] for row in await store._db.fetch(sql)]


async def rows_naming(backend: Backend, store: Store, user_id: int) -> dict[str, int]:
    """Table → how many of its rows hold ``user_id`` (or its orders' ids) in any column."""
    orders = {f"{user_id}-{n}" for n in range(3)}
    found: dict[str, int] = {}
    for table in await tables(backend, store):
        if backend.dialect == "sqlite":
            rows: list[dict[str, Any]] = sqlite_rows(backend.path, table)
        else:
            rows = await postgres_rows(backend.pg_url, table)
        hits = [r for r in rows if {user_id, str(user_id), *orders} & set(map(_plain, r.values()))]
        if hits:
            found[table] = len(hits)
    return found


def _plain(value: object) -> object:
    return value if isinstance(value, int | str) else repr(value)


async def a_life(store: Store, clock: FakeClock, user_id: int) -> None:
    """A user who did a bit of everything; nothing left open."""
    await store.ensure_user(user_id, "en")
    await store.set_key(user_id, b"cipher", "0123456789abcdef", "Alice")
    await store.set_dialog(user_id, {"mode": "countries"})
    for n, status in enumerate(("COMPLETED", "CANCELLED", "FAILED")):
        order_id = f"{user_id}-{n}"
        await store.save_order(make_order(order_id, user_id=user_id, status=status))
        await store.mark_final_notified(order_id)
    await store.claim_delivery(f"{user_id}-0", 0, "Your code is 123456", clock.now)
    await store.mark_delivered(f"{user_id}-0", 0, 77)
    offer = await store.offer_purchase(user_id, "tg", "Telegram", "7", "my", 32)
    await store.claim_purchase(offer.token, user_id)
    await store.finish_purchase(offer.token, PurchaseState.DONE, f"{user_id}-0")
    await store.touch_service(user_id, "tg")
    await store.add_favourite(user_id, "tg", "Telegram", "7", "my", limit=10)
    await store.add_alert(user_id, "wa", "WhatsApp", "16", "pl", lifetime=DAY, limit=10)
    broadcast = await store.draft_broadcast(user_id, "news")
    await store.start_broadcast(broadcast.id, user_id, 9)
    while (recipient := await store.claim_recipient(broadcast.id, "replica-a")) is not None:
        await store.settle_recipient(broadcast.id, recipient, "replica-a", RecipientState.SENT, 42)
    assert await store.finish_broadcast(broadcast.id)


async def test_forget_leaves_no_row_of_the_user(
    backend: Backend, store: Store, clock: FakeClock
) -> None:
    await a_life(store, clock, USER)
    await a_life(store, clock, OTHER_USER)
    before = await rows_naming(backend, store, OTHER_USER)
    assert set(await rows_naming(backend, store, USER)) >= {
        "users",
        "orders",
        "sms_deliveries",
        "purchases",
        "recent_services",
        "favourites",
        "alerts",
        "broadcasts",
        "broadcast_recipients",
    }
    privacy = PrivacyService(store, retention=30 * DAY, clock=clock)
    assert await privacy.forget(USER, confirmed=False) == ConfirmForget()
    assert await privacy.forget(USER, confirmed=True) == Forgot()
    assert await rows_naming(backend, store, USER) == {}
    # The other user keeps everything but the record of receiving the erased one's broadcast.
    assert before["broadcast_recipients"] == 2
    assert await rows_naming(backend, store, OTHER_USER) == {**before, "broadcast_recipients": 1}
    await store.ensure_user(USER, "en")  # the user may come back: a new, empty row


async def test_forget_is_refused_while_an_order_or_a_purchase_is_open(store: Store) -> None:
    privacy = PrivacyService(store, retention=30 * DAY)
    await store.ensure_user(USER, "en")
    await store.save_order(make_order("open"))
    for confirmed in (False, True):
        assert await privacy.forget(USER, confirmed=confirmed) == ForgetRefused()
    await store.set_order_status("open", "COMPLETED")
    assert await privacy.forget(USER, confirmed=True) == ForgetRefused()  # not reported yet
    await store.mark_final_notified("open")
    offer = await store.offer_purchase(USER, "tg", "Telegram", "7", "my", 32)
    await store.claim_purchase(offer.token, USER)  # creating: the money is in flight
    assert await privacy.forget(USER, confirmed=True) == ForgetRefused()
    assert (await order_of(store, "open")).phone
    await store.finish_purchase(offer.token, PurchaseState.FAILED)
    assert await privacy.forget(USER, confirmed=True) == Forgot()


async def test_retention_empties_old_bodies_and_phones_only(store: Store, clock: FakeClock) -> None:
    privacy = PrivacyService(store, retention=30 * DAY, clock=clock)
    await store.ensure_user(USER, "en")
    await store.save_order(make_order("old", status="COMPLETED", created_at=clock.now))
    await store.mark_final_notified("old")
    await store.save_order(make_order("watched", created_at=clock.now))
    await store.claim_delivery("old", 0, "code 111111", clock.now)
    await store.mark_delivered("old", 0, 1)
    await store.claim_delivery("watched", 0, "code 222222", clock.now)  # never pushed
    clock.advance(29 * DAY)
    await store.save_order(make_order("new", status="COMPLETED", created_at=clock.now))
    await store.mark_final_notified("new")
    await store.claim_delivery("new", 0, "code 333333", clock.now)
    await store.mark_delivered("new", 0, 2)
    assert (await privacy.purge()).bodies == 0
    clock.advance(2 * DAY)
    purged = await privacy.purge()
    assert (purged.bodies, purged.phones) == (1, 1)
    assert [d.body for d in await store.deliveries_for("old")] == [""]
    assert [d.body for d in await store.deliveries_for("watched")] == ["code 222222"]
    assert [d.body for d in await store.deliveries_for("new")] == ["code 333333"]
    assert (await order_of(store, "old")).phone == ""
    assert (await order_of(store, "watched")).phone != ""
    assert (await order_of(store, "new")).phone != ""
    clock.advance(29 * DAY)
    await privacy.purge_if_due()  # more than an hour since the last pass
    assert [d.body for d in await store.deliveries_for("new")] == [""]


async def test_retention_runs_at_most_hourly(store: Store, clock: FakeClock) -> None:
    privacy = PrivacyService(store, retention=30 * DAY, clock=clock)
    await store.ensure_user(USER, "en")
    await store.save_order(make_order("ended", status="COMPLETED", created_at=clock.now))
    await store.mark_final_notified("ended")
    clock.advance(30 * DAY - timedelta(minutes=10))
    await privacy.purge_if_due()  # the first pass: too young yet
    clock.advance(timedelta(minutes=20))
    await privacy.purge_if_due()  # old enough now, but the last pass was 20 minutes ago
    assert (await order_of(store, "ended")).phone != ""
    clock.advance(timedelta(hours=1))
    await privacy.purge_if_due()
    assert (await order_of(store, "ended")).phone == ""
