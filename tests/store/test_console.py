"""The operator console's storage (issue 15), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.store import Store
from bot.store.console import BroadcastState, RecipientState, Tally
from tests.store.conftest import OTHER_USER, USER, Backend, FakeClock, make_order, user_of

HOLDER = "replica-a"


async def test_mute_is_recorded_once_and_read_back(store: Store) -> None:
    assert not (await user_of(store, USER)).announcements_muted
    assert await store.set_announcements_muted(USER, True)
    assert not await store.set_announcements_muted(USER, True)
    assert (await user_of(store, USER)).announcements_muted
    assert await store.set_announcements_muted(USER, False)
    assert not (await user_of(store, USER)).announcements_muted


async def test_last_seen_is_written_at_most_once_an_hour(store: Store, clock: FakeClock) -> None:
    first = (await user_of(store, USER)).last_seen_at
    assert first is not None
    clock.advance(timedelta(minutes=59))
    assert (await store.ensure_user(USER, "en")).last_seen_at == first
    assert (await user_of(store, USER)).last_seen_at == first
    clock.advance(timedelta(minutes=2))
    seen = (await store.ensure_user(USER, "en")).last_seen_at
    assert seen == clock.now
    assert (await user_of(store, USER)).last_seen_at == seen


async def test_user_counts(store: Store, clock: FakeClock) -> None:
    await store.set_key(USER, b"cipher", "fp", "Alice")
    await store.set_chat_active(OTHER_USER, False)
    counts = await store.user_counts(clock.now - timedelta(hours=24))
    assert (counts.total, counts.linked, counts.active, counts.blocked) == (2, 1, 2, 1)
    clock.advance(timedelta(hours=25))
    await store.ensure_user(USER, "en")
    counts = await store.user_counts(clock.now - timedelta(hours=24))
    assert counts.active == 1


async def test_orders_and_code_latency_since(store: Store, clock: FakeClock) -> None:
    await store.save_order(make_order("a", created_at=clock.now - timedelta(hours=30)))
    await store.save_order(make_order("b", created_at=clock.now - timedelta(hours=1)))
    assert await store.count_orders_since(clock.now - timedelta(hours=24)) == 1
    assert await store.claim_delivery("b", 0, "code 1", clock.now - timedelta(seconds=3))
    assert await store.claim_delivery("b", 1, "code 2", None)
    assert await store.mark_delivered("b", 0, 10)
    assert await store.mark_delivered("b", 1, 11)
    [latency] = await store.code_latencies(clock.now - timedelta(hours=24))
    assert latency == pytest.approx(3.0, abs=0.01)
    clock.advance(timedelta(hours=25))
    assert await store.code_latencies(clock.now - timedelta(hours=24)) == []


async def test_counters_add_up_per_hour_across_replicas(backend: Backend, clock: FakeClock) -> None:
    one, two = await backend.open(), await backend.open()
    try:
        await one.add_counters(clock.now, {"jiema_errors": 2, "telegram_errors": 0})
        await two.add_counters(clock.now, {"jiema_errors": 3, "jiema_429": 1})
        await one.add_counters(clock.now - timedelta(hours=30), {"jiema_errors": 100})
        totals = await two.sum_counters(clock.now - timedelta(hours=24))
        assert totals == {"jiema_errors": 5, "jiema_429": 1}
    finally:
        await one.close()
        await two.close()


async def test_counters_older_than_two_days_are_dropped(store: Store, clock: FakeClock) -> None:
    await store.add_counters(clock.now - timedelta(days=3), {"jiema_errors": 7})
    await store.add_counters(clock.now - timedelta(hours=40), {"jiema_errors": 1})
    assert await store.sum_counters(clock.now - timedelta(days=4)) == {"jiema_errors": 8}
    await store.add_counters(clock.now, {"jiema_429": 1})
    assert await store.sum_counters(clock.now - timedelta(days=4)) == {
        "jiema_errors": 1,
        "jiema_429": 1,
    }


async def _users(store: Store, *ids: int) -> None:
    for user_id in ids:
        await store.ensure_user(user_id, "en")


async def test_a_broadcast_goes_to_reachable_listeners_each_claimed_once(store: Store) -> None:
    await _users(store, 3, 4, 5)
    await store.set_chat_active(4, False)
    await store.set_announcements_muted(5, True)
    assert await store.count_announcement_recipients() == 3  # USER, OTHER_USER, 3
    draft = await store.draft_broadcast(USER, "<b>Maintenance</b> tonight")
    assert draft.state is BroadcastState.DRAFT
    assert await store.start_broadcast(draft.id, OTHER_USER, 77) is None  # not theirs
    assert await store.start_broadcast(draft.id, USER, 77) == 3
    assert await store.start_broadcast(draft.id, USER, 77) is None  # once
    started = await store.get_broadcast(draft.id)
    assert started is not None
    assert started.state is BroadcastState.SENDING
    assert started.progress_message_id == 77
    assert [b.id for b in await store.broadcasts_in_state(BroadcastState.SENDING)] == [draft.id]

    claimed = []
    while (user_id := await store.claim_recipient(draft.id, HOLDER)) is not None:
        claimed.append(user_id)
        state = RecipientState.BLOCKED if user_id == 3 else RecipientState.SENT
        assert await store.settle_recipient(draft.id, user_id, HOLDER, state, 5)
    assert claimed == sorted([USER, OTHER_USER, 3])
    assert await store.tally(draft.id) == Tally(sent=2, blocked=1)
    assert await store.unreported_broadcasts() == []
    assert await store.finish_broadcast(draft.id)
    assert not await store.finish_broadcast(draft.id)
    assert [b.id for b in await store.unreported_broadcasts()] == [draft.id]
    assert await store.claim_report(draft.id)
    assert not await store.claim_report(draft.id)


async def test_a_new_draft_replaces_the_old_one(store: Store) -> None:
    old = await store.draft_broadcast(USER, "first")
    new = await store.draft_broadcast(USER, "second")
    replaced = await store.get_broadcast(old.id)
    assert replaced is not None
    assert replaced.state is BroadcastState.DISCARDED
    assert await store.start_broadcast(old.id, USER, 1) is None
    assert await store.start_broadcast(new.id, USER, 1) == 2


async def test_a_stale_claim_becomes_unknown_and_is_never_claimed_again(
    store: Store, clock: FakeClock
) -> None:
    draft = await store.draft_broadcast(USER, "hello")
    assert await store.start_broadcast(draft.id, USER, 1) == 2
    dead = await store.claim_recipient(draft.id, "dead-replica")
    assert dead == USER
    assert await store.expire_recipient_claims(draft.id, timedelta(seconds=10)) == 0
    clock.advance(timedelta(seconds=11))
    assert await store.expire_recipient_claims(draft.id, timedelta(seconds=10)) == 1
    assert await store.claim_recipient(draft.id, HOLDER) == OTHER_USER
    assert await store.claim_recipient(draft.id, HOLDER) is None
    assert not await store.finish_broadcast(draft.id)  # OTHER_USER still claimed
    assert await store.settle_recipient(draft.id, OTHER_USER, HOLDER, RecipientState.SENT, 9)
    assert await store.finish_broadcast(draft.id)
    # The slow "dead" sender did deliver after all: its record still counts.
    assert await store.settle_recipient(draft.id, USER, "dead-replica", RecipientState.SENT, 8)
    assert await store.tally(draft.id) == Tally(sent=2)
    with pytest.raises(ValueError, match="cannot settle"):
        await store.settle_recipient(draft.id, USER, HOLDER, RecipientState.CLAIMED)


async def test_a_claim_handed_back_is_claimed_again(store: Store) -> None:
    draft = await store.draft_broadcast(USER, "hello")
    await store.start_broadcast(draft.id, USER, 1)
    first = await store.claim_recipient(draft.id, HOLDER)
    assert first is not None
    assert await store.settle_recipient(draft.id, first, HOLDER, RecipientState.PENDING)
    assert await store.claim_recipient(draft.id, HOLDER) == first


async def test_cancelling_stops_the_claims(store: Store) -> None:
    draft = await store.draft_broadcast(USER, "hello")
    assert await store.cancel_broadcast(draft.id, OTHER_USER) is None
    assert await store.cancel_broadcast(draft.id, USER) is BroadcastState.DISCARDED
    running = await store.draft_broadcast(USER, "hello again")
    await store.start_broadcast(running.id, USER, 1)
    assert await store.claim_recipient(running.id, HOLDER) == USER
    assert await store.cancel_broadcast(running.id, USER) is BroadcastState.CANCELLED
    assert await store.cancel_broadcast(running.id, USER) is None
    assert await store.claim_recipient(running.id, HOLDER) is None
    assert await store.tally(running.id) == Tally(pending=1, claimed=1)
    assert [b.id for b in await store.unreported_broadcasts()] == [running.id]


async def test_codes_due_hold_up_announcements_but_not_blocked_or_waiting_ones(
    store: Store, clock: FakeClock
) -> None:
    await store.save_order(make_order("a"))
    assert await store.count_codes_due() == 0
    assert await store.claim_delivery("a", 0, "code 1", None)
    assert await store.count_codes_due() == 1
    await store.set_chat_active(USER, False)  # blocked: the code waits, announcements go on
    assert await store.count_codes_due() == 0
    await store.set_chat_active(USER, True)
    assert await store.mark_delivered("a", 0, 1)
    assert await store.count_codes_due() == 0
    until = clock.now + timedelta(seconds=30)
    assert await store.claim_delivery("a", 1, "code 2", None, claimant="r1", lease_until=until)
    assert await store.count_codes_due() == 1  # being sent right now
    later = clock.now + timedelta(minutes=1)
    assert await store.reschedule_delivery("a", 1, "r1", later, doubtful=False)
    assert await store.count_codes_due() == 0  # waits for its retry
    clock.advance(timedelta(minutes=2))
    assert await store.count_codes_due() == 1
    await store.give_up_delivery("a", 1)
    assert await store.count_codes_due() == 0
