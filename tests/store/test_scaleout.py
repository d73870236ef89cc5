"""Schema v3: chat state, leases, replicas, webhook update claims, counts."""

import asyncio
from datetime import timedelta

import pytest

from bot.store import POLL_PREFIX, Store

from .conftest import OTHER_USER, USER, Backend, FakeClock, make_order, user_of

TTL = timedelta(seconds=30)


# -- chat state -----------------------------------------------------------------------------


async def test_dialog_is_empty_until_set(store: Store) -> None:
    assert (await user_of(store, USER)).dialog == {}
    assert (await store.ensure_user(42, None)).dialog == {}


async def test_set_dialog_round_trips_and_clears(store: Store) -> None:
    dialog = {"mode": "countries", "query": "малай", "page": 2, "seen": [1, 2], "x": {"y": None}}
    await store.set_dialog(USER, dialog)
    assert (await user_of(store, USER)).dialog == dialog
    assert (await user_of(store, OTHER_USER)).dialog == {}
    await store.set_dialog(USER, {})
    assert (await user_of(store, USER)).dialog == {}
    await store.set_dialog(USER, {"mode": "services"})
    await store.set_dialog(USER, None)
    assert (await user_of(store, USER)).dialog == {}


async def test_dialog_survives_reopen(backend: Backend) -> None:
    store = await backend.open()
    await store.ensure_user(USER, None)
    await store.set_dialog(USER, {"mode": "confirm"})
    await store.close()
    reopened = await backend.open()
    try:
        assert (await user_of(reopened, USER)).dialog == {"mode": "confirm"}
    finally:
        await reopened.close()


@pytest.mark.parametrize("bad", [{"page": (1, 2)}, {1: "int key"}, {"at": {3}}])
async def test_dialog_that_json_would_change_is_refused(store: Store, bad: object) -> None:
    await store.set_dialog(USER, {"mode": "kept"})
    with pytest.raises(TypeError):
        await store.set_dialog(USER, bad)  # type: ignore[arg-type]
    assert (await user_of(store, USER)).dialog == {"mode": "kept"}


async def test_set_dialog_ignores_unknown_users(store: Store) -> None:
    await store.set_dialog(999, {"mode": "x"})
    assert await store.get_user(999) is None


# -- leases ---------------------------------------------------------------------------------


async def test_lease_is_exclusive_until_it_expires(store: Store, clock: FakeClock) -> None:
    assert await store.acquire_lease("poll:1", "a", TTL)
    assert not await store.acquire_lease("poll:1", "b", TTL)
    assert await store.live_leases() == {"poll:1": "a"}
    clock.advance(TTL + timedelta(seconds=1))
    assert await store.live_leases() == {}
    assert await store.acquire_lease("poll:1", "b", TTL)  # expired: taken over
    assert await store.live_leases() == {"poll:1": "b"}
    assert not await store.acquire_lease("poll:1", "a", TTL)
    assert await store.renew_leases("a", TTL) == set()


async def test_acquiring_a_held_lease_renews_it(store: Store, clock: FakeClock) -> None:
    assert await store.acquire_lease("job", "a", TTL)
    clock.advance(TTL - timedelta(seconds=1))
    assert await store.acquire_lease("job", "a", TTL)
    clock.advance(timedelta(seconds=2))  # past the first expiry, within the renewed one
    assert await store.live_leases() == {"job": "a"}
    assert not await store.acquire_lease("job", "b", TTL)


async def test_renew_leases_extends_only_the_holders_live_leases(
    store: Store, clock: FakeClock
) -> None:
    for name in ("poll:1", "poll:2"):
        assert await store.acquire_lease(name, "a", TTL)
    assert await store.acquire_lease("poll:3", "b", TTL)
    assert await store.acquire_lease("short", "a", timedelta(seconds=5))
    clock.advance(timedelta(seconds=10))
    assert await store.renew_leases("a", TTL) == {"poll:1", "poll:2"}
    clock.advance(timedelta(seconds=25))  # b's lease ran out, a's were renewed
    assert await store.live_leases() == {"poll:1": "a", "poll:2": "a"}


async def test_release_leases(store: Store) -> None:
    for name in ("poll:1", "poll:2", "poll:3", "reconcile"):
        assert await store.acquire_lease(name, "a", TTL)
    assert await store.acquire_lease("poll:9", "b", TTL)
    await store.release_leases("a", ["poll:1", "poll:2", "poll:9", "nothing"])
    assert await store.live_leases() == {"poll:3": "a", "reconcile": "a", "poll:9": "b"}
    await store.release_leases("a", [])
    await store.release_leases("a", iter(["poll:3"]))
    assert await store.live_leases() == {"reconcile": "a", "poll:9": "b"}
    await store.release_leases("a")
    assert await store.live_leases() == {"poll:9": "b"}


async def test_release_lease_needs_the_holder(store: Store) -> None:
    assert await store.acquire_lease("user:1", "a", TTL)
    await store.release_lease("user:1", "b")
    assert await store.live_leases() == {"user:1": "a"}
    await store.release_lease("user:1", "a")
    assert await store.live_leases() == {}
    assert await store.acquire_lease("user:1", "b", TTL)


async def test_live_leases_by_prefix(store: Store) -> None:
    for name in ("poll:1", "poll:22", "pollx", "user:1", "p%ll:1", "p_ll:2"):
        assert await store.acquire_lease(name, "a", TTL)
    assert await store.live_leases("poll:") == {"poll:1": "a", "poll:22": "a"}
    assert await store.live_leases("p%") == {"p%ll:1": "a"}  # no LIKE wildcards
    assert await store.live_leases("p_") == {"p_ll:2": "a"}
    assert len(await store.live_leases()) == 6
    assert await store.live_leases("nothing") == {}


# -- replicas -------------------------------------------------------------------------------


async def test_live_replicas(store: Store, clock: FakeClock) -> None:
    assert await store.live_replicas(TTL) == []
    for replica in ("replica-b", "Replica-A", "replica-a"):
        await store.heartbeat(replica)
    assert await store.live_replicas(TTL) == ["Replica-A", "replica-a", "replica-b"]
    clock.advance(timedelta(seconds=20))
    await store.heartbeat("replica-b")
    clock.advance(timedelta(seconds=20))
    assert await store.live_replicas(TTL) == ["replica-b"]
    await store.heartbeat("replica-a")  # beating again brings it back
    assert await store.live_replicas(TTL) == ["replica-a", "replica-b"]
    await store.drop_replica("replica-b")
    await store.drop_replica("unknown")
    assert await store.live_replicas(TTL) == ["replica-a"]


# -- webhook updates ------------------------------------------------------------------------


async def test_update_is_handled_once(store: Store) -> None:
    assert await store.claim_update(900_000_001, "a", TTL) == "claimed"
    assert await store.claim_update(900_000_001, "b", TTL) == "busy"
    assert await store.claim_update(900_000_001, "a", TTL) == "busy"  # a redelivery to a
    await store.finish_update(900_000_001)
    assert await store.claim_update(900_000_001, "b", TTL) == "done"
    assert await store.claim_update(900_000_002, "b", TTL) == "claimed"


async def test_stale_claim_is_taken_over(store: Store, clock: FakeClock) -> None:
    assert await store.claim_update(7, "dead", TTL) == "claimed"
    clock.advance(TTL - timedelta(seconds=1))
    assert await store.claim_update(7, "b", TTL) == "busy"
    clock.advance(timedelta(seconds=2))
    assert await store.claim_update(7, "b", TTL) == "claimed"
    assert await store.claim_update(7, "c", TTL) == "busy"  # b's claim is fresh
    await store.finish_update(7)
    clock.advance(TTL * 10)
    assert await store.claim_update(7, "c", TTL) == "done"  # done is never stale


async def test_prune_updates(store: Store, clock: FakeClock) -> None:
    for update_id in (1, 2):
        assert await store.claim_update(update_id, "a", TTL) == "claimed"
    await store.finish_update(1)
    clock.advance(timedelta(hours=2))
    assert await store.claim_update(3, "a", TTL) == "claimed"
    assert await store.prune_updates(timedelta(hours=1)) == 2
    assert await store.prune_updates(timedelta(hours=1)) == 0
    assert await store.claim_update(3, "b", TTL) == "busy"  # recent: kept
    assert await store.claim_update(1, "b", TTL) == "claimed"  # forgotten


async def test_concurrent_claims_of_one_update(backend: Backend, store: Store) -> None:
    second = await backend.open()
    try:
        results = await asyncio.gather(
            *(s.claim_update(5, f"r{n}", TTL) for n in range(25) for s in (store, second))
        )
    finally:
        await second.close()
    assert results.count("claimed") == 1
    assert results.count("busy") == 49


async def test_a_replica_reads_the_orders_and_users_of_the_keys_it_polls(
    store: Store, clock: FakeClock
) -> None:
    big = 8_000_000_000  # Telegram ids pass 2**32
    await store.ensure_user(big, None)
    await store.save_order(make_order("a"))
    await store.save_order(make_order("b", status="COMPLETED"))  # final, not yet announced
    await store.save_order(make_order("c", status="CANCELLED"))
    await store.mark_final_notified("c")
    await store.save_order(make_order("d", OTHER_USER))
    await store.save_order(make_order("e", big))
    assert await store.active_order_users() == {USER: 2, OTHER_USER: 1, big: 1}
    assert await store.acquire_lease(f"{POLL_PREFIX}{USER}", "r1", TTL)
    assert await store.acquire_lease(f"{POLL_PREFIX}{big}", "r1", TTL)
    assert await store.acquire_lease(f"{POLL_PREFIX}{OTHER_USER}", "r2", TTL)
    assert await store.acquire_lease(f"user:{OTHER_USER}", "r1", TTL)  # not a poll lease
    assert {o.id for o in await store.active_orders(polled_by="r1")} == {"a", "b", "e"}
    assert set(await store.users_polled_by("r1")) == {USER, big}
    assert {o.id for o in await store.active_orders(polled_by="r2")} == {"d"}
    clock.advance(TTL + timedelta(seconds=1))  # r1 stopped renewing: nothing is its now
    assert await store.active_orders(polled_by="r1") == []
    assert await store.users_polled_by("r1") == {}


# -- counts ---------------------------------------------------------------------------------


async def test_counts(store: Store) -> None:
    assert await store.count_active_orders() == 0
    assert await store.count_pending_deliveries() == 0
    await store.save_order(make_order("a"))
    await store.save_order(make_order("b", status="COMPLETED"))
    await store.save_order(make_order("c", status="CANCELLED"))
    await store.mark_final_notified("c")
    assert await store.count_active_orders() == len(await store.active_orders()) == 2
    await store.claim_delivery("a", 0, "code 1", None)
    await store.claim_delivery("a", 1, "code 2", None)
    await store.mark_delivered("a", 0, 10)
    assert await store.count_pending_deliveries() == 1
