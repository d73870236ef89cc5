"""The outbox's rows: claims, retries, doubt, give-up, stale cards and final notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import POLL_PREFIX, Store
from tests.store.conftest import OTHER_USER, USER, FakeClock, make_order, order_of

NOW = datetime(2026, 5, 22, 8, 15, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=2)


async def _with_sms(store: Store, *bodies: str, order_id: str = "ck1", user_id: int = USER) -> None:
    await store.save_order(make_order(order_id, user_id))
    for position, body in enumerate(bodies):
        received = NOW - timedelta(minutes=5) + timedelta(seconds=position)
        assert await store.claim_delivery(order_id, position, body, received)


async def test_a_chats_codes_are_claimed_in_sms_order_by_one_sender_at_a_time(
    store: Store,
) -> None:
    await _with_sms(store, "a", "b")
    claimed = await store.claim_due_deliveries("r1", NOW, LEASE, user_id=USER)
    assert [d.body for d in claimed] == ["a", "b"]
    assert all(d.user_id == USER for d in claimed)
    assert await store.claim_due_deliveries("r2", NOW, LEASE, user_id=USER) == []


async def test_a_later_code_waits_behind_an_earlier_one_that_waits_for_its_retry(
    store: Store,
) -> None:
    await _with_sms(store, "a")
    assert len(await store.claim_due_deliveries("r1", NOW, LEASE, user_id=USER)) == 1
    assert await store.reschedule_delivery(
        "ck1", 0, "r1", NOW + timedelta(seconds=4), doubtful=False
    )
    assert await store.claim_delivery("ck1", 1, "b", NOW)
    assert await store.claim_due_deliveries("r1", NOW, LEASE, user_id=USER) == []
    later = NOW + timedelta(seconds=5)
    claimed = await store.claim_due_deliveries("r1", later, LEASE, user_id=USER)
    assert [(d.body, d.attempts) for d in claimed] == [("a", 1), ("b", 0)]


async def test_two_doubtful_sends_give_the_push_up(store: Store) -> None:
    await _with_sms(store, "a")
    for round_ in range(2):
        at = NOW + timedelta(minutes=round_)
        assert len(await store.claim_due_deliveries("r1", at, LEASE, user_id=USER)) == 1
        kept = await store.reschedule_delivery("ck1", 0, "r1", at, doubtful=True)
        assert kept == (round_ == 0)
    assert (
        await store.claim_due_deliveries("r1", NOW + timedelta(hours=1), LEASE, user_id=USER) == []
    )
    [row] = await store.deliveries_for("ck1")
    assert (row.given_up, row.doubtful, row.attempts) == (True, 2, 2)
    assert await store.pending_deliveries() == []


async def test_a_claim_that_died_counts_as_doubtful(store: Store) -> None:
    await _with_sms(store, "a")
    await store.claim_due_deliveries("r1", NOW, LEASE, user_id=USER)
    assert await store.expire_claims("r1", NOW) == 1  # r1 restarted
    [again] = await store.claim_due_deliveries("r1", NOW, LEASE, user_id=USER)
    assert again.doubtful == 1
    await store.expire_claims("r1", NOW)
    assert await store.claim_due_deliveries("r1", NOW, LEASE, user_id=USER) == []
    [row] = await store.deliveries_for("ck1")
    assert row.given_up


async def test_the_claims_of_a_replica_that_stopped_beating_end_with_it(
    store: Store, clock: FakeClock
) -> None:
    await _with_sms(store, "a", "b")
    await _with_sms(store, "c", order_id="ck2", user_id=OTHER_USER)
    await store.heartbeat("dead")
    await store.heartbeat("live")
    lease = clock() + timedelta(minutes=2)
    assert len(await store.claim_due_deliveries("dead", clock(), lease, user_id=USER)) == 2
    assert len(await store.claim_due_deliveries("live", clock(), lease, user_id=OTHER_USER)) == 1
    assert await store.expire_claims_of_dead_replicas(timedelta(seconds=10)) == 0
    clock.advance(timedelta(seconds=11))
    await store.heartbeat("live")
    assert await store.expire_claims_of_dead_replicas(timedelta(seconds=10)) == 2
    clock.advance(timedelta(seconds=1))  # the survivor's next round
    assert await store.users_with_due_sends(clock(), "live") == [USER]
    again = await store.claim_due_deliveries("live", clock(), lease, user_id=USER)
    assert [(d.body, d.doubtful) for d in again] == [("a", 1), ("b", 1)]
    assert await store.claim_due_deliveries("live", clock(), lease, user_id=OTHER_USER) == []


async def test_nothing_is_claimed_for_a_blocked_chat_until_it_is_back(store: Store) -> None:
    await _with_sms(store, "a")
    await store.set_chat_active(USER, False)
    assert await store.claim_due_deliveries("r1", NOW, LEASE, user_id=USER) == []
    assert await store.users_with_due_sends(NOW, "r1") == []
    await store.set_chat_active(USER, True)
    assert await store.users_with_due_sends(NOW, "r1") == [USER]


async def test_users_with_due_sends_come_in_sms_order_then_stale_cards(store: Store) -> None:
    await _with_sms(store, "late", order_id="ck2", user_id=OTHER_USER)
    await store.save_order(make_order("ck1"))
    assert await store.claim_delivery("ck1", 0, "early", NOW - timedelta(hours=1))
    await store.save_order(make_order("ck3", OTHER_USER))
    await store.mark_card_stale("ck3", NOW)
    assert await store.users_with_due_sends(NOW, "r1") == [USER, OTHER_USER]


async def test_a_chat_whose_key_another_live_replica_polls_is_left_to_it(
    store: Store, clock: FakeClock
) -> None:
    await _with_sms(store, "a", "b")
    await store.save_order(make_order("ck3", OTHER_USER))
    await store.mark_card_stale("ck3", clock())
    ttl = timedelta(seconds=10)
    for user_id in (USER, OTHER_USER):
        assert await store.acquire_lease(f"{POLL_PREFIX}{user_id}", "holder", ttl)
    assert await store.users_with_due_sends(clock(), "other") == []
    assert await store.users_with_due_sends(clock(), "holder") == [USER, OTHER_USER]
    clock.advance(ttl + timedelta(seconds=1))  # the holder died; whoever takes its keys sends
    assert await store.users_with_due_sends(clock(), "other") == [USER, OTHER_USER]


async def test_a_stale_card_is_due_at_its_retry_time_and_cleared_by_a_redraw(
    store: Store,
) -> None:
    await store.save_order(make_order("ck1"))
    await store.mark_card_stale("ck1", NOW + timedelta(seconds=10))
    assert await store.stale_cards(NOW) == []
    [stale] = await store.stale_cards(NOW + timedelta(seconds=10), user_id=USER)
    assert stale.card_retry_at == NOW + timedelta(seconds=10)
    await store.set_card_hash("ck1", "h")
    assert await store.stale_cards(NOW + timedelta(hours=1)) == []
    assert (await order_of(store, "ck1")).card_retry_at is None


async def test_a_final_notice_is_claimed_once_and_deferred_after_a_failure(store: Store) -> None:
    await store.save_order(make_order("ck1", status="CANCELLED"))
    assert await store.claim_final_notice("ck1", NOW, LEASE)
    assert not await store.claim_final_notice("ck1", NOW, LEASE)  # another replica
    await store.defer_final_notice("ck1", NOW + timedelta(seconds=5))
    assert not await store.claim_final_notice("ck1", NOW, LEASE)
    assert await store.claim_final_notice("ck1", NOW + timedelta(seconds=5), LEASE)
    assert await store.mark_final_notified("ck1")
    assert not await store.claim_final_notice("ck1", NOW + timedelta(hours=1), LEASE)


async def test_a_head_code_given_up_does_not_hold_back_the_next_one(store: Store) -> None:
    """A sender claiming one code at a time gets the next code when the first is given up
    (its second send died with its replica), not an empty claim until the next round."""
    await _with_sms(store, "a", "b")
    for _ in range(2):  # "a" claimed twice by a replica that died mid-send each time
        await store.claim_due_deliveries("r1", NOW, LEASE, limit=1, user_id=USER)
        await store.expire_claims("r1", NOW)
    [claimed] = await store.claim_due_deliveries("r2", NOW, LEASE, limit=1, user_id=USER)
    assert claimed.body == "b"
    first, _ = await store.deliveries_for("ck1")
    assert first.given_up
