import asyncio
import re
from datetime import timedelta

import pytest

from bot.store import Purchase, PurchaseState, Store

from .conftest import OTHER_USER, USER, Backend, FakeClock


async def offer(store: Store, user_id: int = USER) -> Purchase:
    return await store.offer_purchase(user_id, "tg", "Telegram", "7", "my", 32)


async def test_offer_purchase(store: Store) -> None:
    purchase = await offer(store)
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", purchase.token)
    assert len(f"buy:{purchase.token}".encode()) <= 64
    assert purchase.state is PurchaseState.OFFERED
    assert (purchase.user_id, purchase.service, purchase.service_name) == (USER, "tg", "Telegram")
    assert (purchase.country_id, purchase.country_slug, purchase.price_cents) == ("7", "my", 32)
    assert purchase.order_id is None
    assert await store.get_purchase(purchase.token) == purchase
    assert await store.get_purchase("unknown") is None
    assert (await offer(store)).token != purchase.token


async def test_fifty_concurrent_claims_have_exactly_one_winner(store: Store) -> None:
    purchase = await offer(store)
    results = await asyncio.gather(*(store.claim_purchase(purchase.token, USER) for _ in range(50)))
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert winners[0].state is PurchaseState.CREATING
    assert winners[0].token == purchase.token
    assert await store.claim_purchase(purchase.token, USER) is None


async def test_one_winner_across_two_connections(store: Store, backend: Backend) -> None:
    # The guard is in SQL, not only in the Store's lock: a second connection cannot win too.
    purchase = await offer(store)
    second = await backend.open()
    try:
        results = await asyncio.gather(
            *(s.claim_purchase(purchase.token, USER) for _ in range(25) for s in (store, second))
        )
    finally:
        await second.close()
    assert sum(result is not None for result in results) == 1


async def test_claim_is_refused_for_another_user(store: Store) -> None:
    purchase = await offer(store)
    assert await store.claim_purchase(purchase.token, OTHER_USER) is None
    unclaimed = await store.get_purchase(purchase.token)
    assert unclaimed is not None
    assert unclaimed.state is PurchaseState.OFFERED
    assert await store.claim_purchase(purchase.token, USER) is not None


async def test_claim_is_refused_for_unknown_and_stale_tokens(store: Store) -> None:
    assert await store.claim_purchase("no-such-token", USER) is None
    purchase = await offer(store)
    assert await store.claim_purchase(purchase.token, USER, max_age=timedelta(0)) is None
    assert await store.claim_purchase(purchase.token, USER, max_age=timedelta(hours=1)) is not None


async def test_finish_purchase(store: Store) -> None:
    purchase = await offer(store)
    assert not await store.finish_purchase(purchase.token, PurchaseState.DONE, "ck1")  # unclaimed
    await store.claim_purchase(purchase.token, USER)
    assert await store.finish_purchase(purchase.token, PurchaseState.DONE, "ck1")
    done = await store.get_purchase(purchase.token)
    assert done is not None
    assert (done.state, done.order_id) == (PurchaseState.DONE, "ck1")
    assert not await store.finish_purchase(purchase.token, PurchaseState.FAILED)


async def test_unknown_purchase_can_be_reconciled(store: Store) -> None:
    lost, failed = await offer(store), await offer(store)
    for purchase in (lost, failed):
        await store.claim_purchase(purchase.token, USER)
    assert [p.token for p in await store.purchases_in_state(PurchaseState.CREATING)] == [
        lost.token,
        failed.token,
    ]
    assert await store.finish_purchase(lost.token, PurchaseState.UNKNOWN)
    assert await store.finish_purchase(failed.token, PurchaseState.FAILED)
    unknown = await store.purchases_in_state(PurchaseState.UNKNOWN)
    assert [p.token for p in unknown] == [lost.token]
    assert await store.finish_purchase(lost.token, PurchaseState.DONE, "ck9")
    assert await store.purchases_in_state(PurchaseState.UNKNOWN) == []
    assert await store.purchases_in_state(PurchaseState.CREATING) == []


@pytest.mark.parametrize("state", [PurchaseState.OFFERED, PurchaseState.CREATING])
async def test_finish_purchase_needs_a_final_state(store: Store, state: PurchaseState) -> None:
    purchase = await offer(store)
    with pytest.raises(ValueError, match="cannot finish"):
        await store.finish_purchase(purchase.token, state)


async def test_claimed_purchase_survives_reopen(backend: Backend) -> None:
    store = await backend.open()
    await store.ensure_user(USER, None)
    purchase = await offer(store)
    await store.claim_purchase(purchase.token, USER)
    await store.close()
    reopened = await backend.open()
    try:
        creating = await reopened.purchases_in_state(PurchaseState.CREATING)
        assert [p.token for p in creating] == [purchase.token]
        assert await reopened.claim_purchase(purchase.token, USER) is None
    finally:
        await reopened.close()


async def test_recent_services_newest_first(store: Store) -> None:
    assert await store.recent_services(USER) == []
    for service in ("tg", "wa", "go", "tg", "fb", "ig", "am"):
        await store.touch_service(USER, service)
    await store.touch_service(OTHER_USER, "vk")
    assert await store.recent_services(USER) == ["am", "ig", "fb", "tg", "go"]
    assert await store.recent_services(USER, limit=2) == ["am", "ig"]
    assert await store.recent_services(OTHER_USER) == ["vk"]


async def test_claim_holds_the_purchase_from_reconcilers(store: Store, clock: FakeClock) -> None:
    purchase = await offer(store)
    claimed = await store.claim_purchase(purchase.token, USER, hold=timedelta(minutes=2))
    assert claimed is not None
    assert claimed.reconcile_after is not None
    assert claimed.reconcile_after - clock.now - timedelta(minutes=2) < timedelta(seconds=1)
    assert await store.purchases_to_reconcile() == []
    clock.advance(timedelta(minutes=2, seconds=1))
    assert [p.token for p in await store.purchases_to_reconcile()] == [purchase.token]


async def test_purchases_to_reconcile(store: Store, clock: FakeClock) -> None:
    lost, held, failed, done, offered = [await offer(store) for _ in range(5)]
    for purchase in (lost, held, failed, done):
        await store.claim_purchase(purchase.token, USER, hold=timedelta(0))
    later = clock.now + timedelta(minutes=5)
    assert await store.finish_purchase(lost.token, PurchaseState.UNKNOWN)
    assert await store.finish_purchase(held.token, PurchaseState.UNKNOWN, reconcile_after=later)
    assert await store.finish_purchase(failed.token, PurchaseState.FAILED)
    assert await store.finish_purchase(done.token, PurchaseState.DONE, "ck1")
    clock.advance(timedelta(seconds=1))
    assert [p.token for p in await store.purchases_to_reconcile()] == [lost.token]
    kept = await store.get_purchase(held.token)
    assert kept is not None
    assert kept.reconcile_after == later
    clock.advance(timedelta(minutes=5))
    due = await store.purchases_to_reconcile()
    assert [p.token for p in due] == [lost.token, held.token]  # oldest first
    assert await store.finish_purchase(held.token, PurchaseState.DONE, "ck2")
    settled = await store.get_purchase(held.token)
    assert settled is not None
    assert settled.reconcile_after == later  # kept when not given
    assert offered.token not in {p.token for p in await store.purchases_to_reconcile()}


async def test_offer_is_due_for_nothing(store: Store) -> None:
    purchase = await offer(store)
    assert purchase.reconcile_after is None
    assert await store.purchases_to_reconcile() == []
