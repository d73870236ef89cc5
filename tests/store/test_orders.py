import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.store import FINAL_STATUSES, DeliveryState, Store

from .conftest import EXPIRES, INTEGRITY_ERRORS, OTHER_USER, USER, Backend, make_order, order_of


async def test_save_and_get_order(store: Store) -> None:
    order = make_order()
    assert await store.save_order(order)
    assert await store.get_order("ck1") == order
    assert await store.get_order("nope") is None


async def test_save_order_ignores_an_existing_id(store: Store) -> None:
    assert await store.save_order(make_order(phone="+1"))
    assert not await store.save_order(make_order(phone="+2"))
    stored = await order_of(store, "ck1")
    assert stored.phone == "+1"


async def test_save_order_needs_a_known_user(store: Store) -> None:
    with pytest.raises(INTEGRITY_ERRORS):
        await store.save_order(make_order(user_id=999))


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.save_order(make_order(expires_at=datetime(2026, 1, 1)))


async def test_times_come_back_in_utc(store: Store) -> None:
    plus8 = datetime(2026, 5, 23, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    await store.save_order(make_order(expires_at=plus8, status="WAITING"))
    stored = await order_of(store, "ck1")
    assert stored.expires_at == plus8
    assert stored.expires_at is not None
    assert stored.expires_at.tzinfo is UTC
    assert stored.expires_at.hour == 16  # 00:30 at +08:00


async def test_ownership_is_checked(store: Store) -> None:
    await store.save_order(make_order())
    assert await store.get_user_order(USER, "ck1") is not None
    assert await store.get_user_order(OTHER_USER, "ck1") is None


async def test_set_order_status_reports_changes(store: Store) -> None:
    await store.save_order(make_order())
    assert not await store.set_order_status("ck1", "WAITING")
    assert await store.set_order_status("ck1", "RECEIVED")
    later = EXPIRES + timedelta(minutes=20)
    assert await store.set_order_status("ck1", "RECEIVED", expires_at=later)
    assert not await store.set_order_status("ck1", "RECEIVED", expires_at=later)
    assert not await store.set_order_status("missing", "RECEIVED")
    stored = await order_of(store, "ck1")
    assert (stored.status, stored.expires_at) == ("RECEIVED", later)
    assert stored.updated_at > stored.created_at


async def test_expiry_can_be_set_on_an_order_saved_without_one(store: Store) -> None:
    await store.save_order(make_order(expires_at=None))
    assert await store.set_order_status("ck1", "WAITING", expires_at=EXPIRES)
    assert (await order_of(store, "ck1")).expires_at == EXPIRES


async def test_card_message_and_sms_seen(store: Store) -> None:
    await store.save_order(make_order())
    await store.set_card_message("ck1", 555)
    await store.set_sms_seen("ck1", 2)
    await store.set_sms_seen("ck1", 1)  # a late, older count never moves it back
    stored = await order_of(store, "ck1")
    assert (stored.card_message_id, stored.sms_seen) == (555, 2)


async def test_a_card_redraw_is_claimed_by_one_writer_and_given_back_if_it_failed(
    store: Store,
) -> None:
    await store.save_order(make_order())
    until = datetime(2030, 1, 1, tzinfo=UTC)
    # Two replicas saw the card showing nothing yet and want it to show "a": one edits.
    blank = await order_of(store, "ck1")
    claims = await asyncio.gather(*(store.claim_card_hash(blank, "a", until) for _ in range(5)))
    assert sorted(claims) == [False] * 4 + [True]
    claimed = await order_of(store, "ck1")
    # Until its edit is recorded, the claim holds the card's retry: were its replica to
    # die now, the card would be due for a redraw then, not taken for drawn.
    assert (claimed.card_hash, claimed.card_retry_at) == ("a", until)
    await store.set_card_hash("ck1", "a")  # drawn
    drawn = await order_of(store, "ck1")
    assert (drawn.card_hash, drawn.card_retry_at) == ("a", None)
    assert await store.claim_card_hash(drawn, "b", until)
    retry = until + timedelta(seconds=10)
    await store.restore_card_hash(drawn, "b", until, retry)  # that edit failed: it shows a
    failed = await order_of(store, "ck1")
    assert (failed.card_hash, failed.card_retry_at) == ("a", retry)
    assert not await store.claim_card_hash(drawn, "c", until)  # from what no longer holds
    assert await store.claim_card_hash(failed, "c", until)
    await store.restore_card_hash(failed, "b", until, None)  # not the claim it made: kept
    assert (await order_of(store, "ck1")).card_hash == "c"


async def test_active_orders_until_the_final_outcome_is_announced(store: Store) -> None:
    for status in ("WAITING", "RECEIVED", "SOMETHING_NEW", *sorted(FINAL_STATUSES)):
        await store.save_order(make_order(f"ck-{status}", status=status))
    active = {order.id for order in await store.active_orders()}
    assert active == {f"ck-{status}" for status in ("WAITING", "RECEIVED", "SOMETHING_NEW")} | {
        f"ck-{status}" for status in FINAL_STATUSES
    }
    for status in FINAL_STATUSES:
        assert await store.mark_final_notified(f"ck-{status}")
        assert not await store.mark_final_notified(f"ck-{status}")
    active = {order.id for order in await store.active_orders()}
    assert active == {"ck-WAITING", "ck-RECEIVED", "ck-SOMETHING_NEW"}


async def test_active_orders_per_user(store: Store) -> None:
    base = datetime(2026, 5, 22, 8, 0, tzinfo=UTC)
    for n in range(4):
        created = base + timedelta(minutes=n)
        await store.save_order(make_order(f"a{n}", created_at=created, updated_at=created))
    await store.save_order(make_order("b0", user_id=OTHER_USER))
    await store.set_order_status("a1", "COMPLETED")
    await store.mark_final_notified("a1")
    active = await store.active_orders_for_user(USER)
    assert [order.id for order in active] == ["a0", "a2", "a3"]
    assert [order.id for order in await store.active_orders_for_user(OTHER_USER)] == ["b0"]


async def test_claim_delivery_once(store: Store) -> None:
    await store.save_order(make_order())
    received = datetime(2026, 5, 22, 8, 12, 34, tzinfo=UTC)
    results = await asyncio.gather(
        *(store.claim_delivery("ck1", 0, "code 123456", received) for _ in range(20))
    )
    assert results.count(True) == 1
    assert not await store.claim_delivery("ck1", 0, "code 123456", received)
    assert await store.claim_delivery("ck1", 1, "code 654321", None)
    pending = await store.pending_deliveries()
    assert [(d.order_id, d.position, d.state) for d in pending] == [
        ("ck1", 0, DeliveryState.PENDING),
        ("ck1", 1, DeliveryState.PENDING),
    ]
    assert pending[0].received_at == received
    assert pending[1].received_at is None
    assert pending[0].body == "code 123456"


async def test_mark_delivered(store: Store) -> None:
    await store.save_order(make_order())
    await store.claim_delivery("ck1", 0, "code", None)
    await store.claim_delivery("ck1", 1, "code 2", None)
    assert await store.mark_delivered("ck1", 0, 777)
    assert not await store.mark_delivered("ck1", 0, 778)
    assert not await store.mark_delivered("ck1", 5, 779)
    assert [(d.position, d.message_id) for d in await store.pending_deliveries()] == [(1, None)]
    delivered = await store.deliveries_for("ck1")
    assert [(d.position, d.state, d.message_id) for d in delivered] == [
        (0, DeliveryState.SENT, 777),
        (1, DeliveryState.PENDING, None),
    ]


async def test_delivery_needs_a_known_order(store: Store) -> None:
    with pytest.raises(INTEGRITY_ERRORS):
        await store.claim_delivery("missing", 0, "code", None)


async def test_writes_are_committed_before_returning(store: Store, backend: Backend) -> None:
    await store.save_order(make_order())
    await store.set_order_status("ck1", "RECEIVED")
    await store.claim_delivery("ck1", 0, "code", None)
    # A second connection sees everything while the first is still open (no close, no
    # flush): this is what a restart after a crash would find.
    second = await backend.open()
    try:
        assert (await order_of(second, "ck1")).status == "RECEIVED"
        assert [d.state for d in await second.pending_deliveries()] == [DeliveryState.PENDING]
    finally:
        await second.close()


async def test_orders_survive_reopen(backend: Backend) -> None:
    store = await backend.open()
    await store.ensure_user(USER, None)
    await store.save_order(make_order())
    await store.claim_delivery("ck1", 0, "code", None)
    await store.close()
    reopened = await backend.open()
    try:
        assert await reopened.get_order("ck1") == make_order()
        assert [d.position for d in await reopened.pending_deliveries()] == [0]
    finally:
        await reopened.close()
