"""Favourites, back-in-stock alerts and the top-up heads-up, on SQLite and PostgreSQL."""

import asyncio
from datetime import timedelta

import pytest

from bot.store import Alert, AlertState, Store

from .conftest import INTEGRITY_ERRORS, OTHER_USER, USER, Backend, FakeClock

DAY = timedelta(hours=24)
REFIRE = timedelta(minutes=2)


async def add_fav(store: Store, country: str = "7", user_id: int = USER, limit: int = 10) -> str:
    return await store.add_favourite(user_id, "tg", "Telegram", country, "my", limit=limit)


async def add_alert(
    store: Store, country: str = "7", user_id: int = USER, limit: int = 10
) -> tuple[Alert | None, bool]:
    return await store.add_alert(
        user_id, "tg", "Telegram", country, "my", lifetime=DAY, limit=limit
    )


# -- favourites -------------------------------------------------------------------------------


async def test_favourites_add_list_remove(store: Store) -> None:
    assert await add_fav(store, "7") == "added"
    assert await add_fav(store, "7") == "exists"
    assert await add_fav(store, "16") == "added"
    listed = await store.favourites(USER)
    assert [(f.service, f.service_name, f.country_id, f.country_slug) for f in listed] == [
        ("tg", "Telegram", "7", "my"),
        ("tg", "Telegram", "16", "my"),
    ]
    assert await store.is_favourite(USER, "tg", "7")
    assert not await store.is_favourite(OTHER_USER, "tg", "7")
    assert await store.favourites(OTHER_USER) == []
    assert not await store.remove_favourite(OTHER_USER, "tg", "7")  # not theirs
    assert await store.remove_favourite(USER, "tg", "7")
    assert not await store.remove_favourite(USER, "tg", "7")
    assert [f.country_id for f in await store.favourites(USER)] == ["16"]


async def test_favourites_are_capped_per_user(store: Store) -> None:
    for country in range(3):
        assert await add_fav(store, str(country), limit=3) == "added"
    assert await add_fav(store, "99", limit=3) == "full"
    assert await add_fav(store, "0", limit=3) == "exists"
    assert await add_fav(store, "99", user_id=OTHER_USER, limit=3) == "added"
    assert len(await store.favourites(USER)) == 3


async def test_concurrent_adds_across_connections_respect_the_cap(
    store: Store, backend: Backend
) -> None:
    second = await backend.open()
    try:
        results = await asyncio.gather(
            *(add_fav(s, str(n), limit=10) for n in range(15) for s in (store, second))
        )
    finally:
        await second.close()
    assert results.count("added") == 10
    assert len(await store.favourites(USER)) == 10


async def test_favourite_of_unknown_user_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown user"):
        await add_fav(store, user_id=4242)


# -- alerts -----------------------------------------------------------------------------------


async def test_alert_lifecycle_fires_once(store: Store, clock: FakeClock) -> None:
    alert, created = await store.add_alert(
        USER, "tg", "Telegram", "7", "my", lifetime=DAY, limit=10
    )
    assert created
    assert alert is not None
    assert alert.state is AlertState.ACTIVE
    assert alert.expires_at - alert.created_at == DAY
    assert len(alert.id) == 8
    assert [a.id for a in await store.user_alerts(USER)] == [alert.id]
    assert [a.id for a in await store.alerts_to_check(refire_after=REFIRE)] == [alert.id]

    winners = await asyncio.gather(
        *(store.claim_alert(alert.id, 41, refire_after=REFIRE) for _ in range(20))
    )
    assert winners.count(True) == 1
    assert await store.alerts_to_check(refire_after=REFIRE) == []  # claimed, fresh
    assert await store.user_alerts(USER) == []
    assert await store.finish_alert(alert.id, sent=True)
    assert not await store.finish_alert(alert.id, sent=True)
    fired = await store.get_alert(alert.id)
    assert fired is not None
    assert (fired.state, fired.price_cents) == (AlertState.SENT, 41)
    assert fired.fired_at is not None
    clock.advance(timedelta(hours=1))
    assert await store.alerts_to_check(refire_after=REFIRE) == []
    assert not await store.claim_alert(alert.id, 41, refire_after=REFIRE)


async def test_claim_across_two_connections_has_one_winner(store: Store, backend: Backend) -> None:
    alert, _ = await store.add_alert(USER, "tg", "Telegram", "7", "my", lifetime=DAY, limit=10)
    assert alert is not None
    second = await backend.open()
    try:
        results = await asyncio.gather(
            *(
                s.claim_alert(alert.id, 41, refire_after=REFIRE)
                for _ in range(10)
                for s in (store, second)
            )
        )
    finally:
        await second.close()
    assert results.count(True) == 1


async def test_an_unrecorded_claim_is_checked_again_after_the_hold(
    store: Store, clock: FakeClock
) -> None:
    alert, _ = await store.add_alert(USER, "tg", "Telegram", "7", "my", lifetime=DAY, limit=10)
    assert alert is not None
    assert await store.claim_alert(alert.id, 41, refire_after=REFIRE)
    # The claimer died before recording the send: nobody else may send during the hold ...
    assert not await store.claim_alert(alert.id, 41, refire_after=REFIRE)
    clock.advance(REFIRE + timedelta(seconds=1))
    # ... and after it, one other caller takes it over.
    assert [a.id for a in await store.alerts_to_check(refire_after=REFIRE)] == [alert.id]
    assert await store.claim_alert(alert.id, 45, refire_after=REFIRE)
    assert not await store.claim_alert(alert.id, 45, refire_after=REFIRE)


async def test_unreachable_user_puts_the_alert_back(store: Store) -> None:
    alert, _ = await store.add_alert(USER, "tg", "Telegram", "7", "my", lifetime=DAY, limit=10)
    assert alert is not None
    assert await store.claim_alert(alert.id, 41, refire_after=REFIRE)
    assert await store.finish_alert(alert.id, sent=False)
    back = await store.get_alert(alert.id)
    assert back is not None
    assert (back.state, back.claimed_at, back.price_cents) == (AlertState.ACTIVE, None, None)
    assert await store.claim_alert(alert.id, 41, refire_after=REFIRE)


async def test_watching_twice_keeps_one_alert(store: Store) -> None:
    first, created = await add_alert(store)
    again, created_again = await add_alert(store)
    assert created
    assert not created_again
    assert again == first
    assert len(await store.user_alerts(USER)) == 1


async def test_alerts_are_capped_and_cancelled_by_their_owner(store: Store) -> None:
    made = [await add_alert(store, str(n), limit=3) for n in range(3)]
    assert all(created for _, created in made)
    assert await add_alert(store, "99", limit=3) == (None, False)
    first = made[0][0]
    assert first is not None
    alert_id = first.id
    assert not await store.cancel_alert(OTHER_USER, alert_id)
    assert await store.cancel_alert(USER, alert_id)
    assert not await store.cancel_alert(USER, alert_id)
    assert not await store.claim_alert(alert_id, 41, refire_after=REFIRE)
    cancelled = await store.get_alert(alert_id)
    assert cancelled is not None
    assert cancelled.state is AlertState.CANCELLED
    new, created = await add_alert(store, "99", limit=3)
    assert created
    assert new is not None
    # A cancelled pair can be watched again.
    _, created = await add_alert(store, "0", limit=4)
    assert created


async def test_alerts_expire(store: Store, clock: FakeClock) -> None:
    alert, _ = await store.add_alert(USER, "tg", "Telegram", "7", "my", lifetime=DAY, limit=1)
    assert alert is not None
    clock.advance(DAY + timedelta(seconds=1))
    assert await store.user_alerts(USER) == []
    assert await store.alerts_to_check(refire_after=REFIRE) == []
    assert not await store.claim_alert(alert.id, 41, refire_after=REFIRE)
    # An expired alert frees its place at once, and is marked so.
    renewed, created = await store.add_alert(
        USER, "tg", "Telegram", "7", "my", lifetime=DAY, limit=1
    )
    assert created
    assert renewed is not None
    assert renewed.id != alert.id
    expired = await store.get_alert(alert.id)
    assert expired is not None
    assert expired.state is AlertState.EXPIRED
    clock.advance(DAY + timedelta(seconds=1))
    assert await store.expire_alerts() == 1
    assert await store.expire_alerts() == 0


async def test_one_live_alert_per_pair_is_a_constraint(store: Store, backend: Backend) -> None:
    await add_alert(store)
    second = await backend.open()
    try:
        with pytest.raises(INTEGRITY_ERRORS):
            # Bypass add_alert's check: the unique index itself refuses a second live alert.
            await second._write(
                "INSERT INTO alerts (id, user_id, service, service_name, country_id,"
                " country_slug, state, created_at, expires_at)"
                " VALUES ('dup', ?, 'tg', 'Telegram', '7', 'my', 'active', 'x', 'y')",
                (USER,),
            )
    finally:
        await second.close()


# -- top-up heads-up --------------------------------------------------------------------------


async def test_topup_hint_once_per_day(store: Store, clock: FakeClock) -> None:
    assert await store.topup_hint_due(USER, DAY)
    assert await store.claim_topup_hint(USER, DAY)
    assert not await store.topup_hint_due(USER, DAY)
    assert not await store.claim_topup_hint(USER, DAY)
    assert await store.topup_hint_due(OTHER_USER, DAY)
    clock.advance(DAY - timedelta(seconds=1))
    assert not await store.claim_topup_hint(USER, DAY)
    clock.advance(timedelta(seconds=2))
    assert await store.topup_hint_due(USER, DAY)
    results = await asyncio.gather(*(store.claim_topup_hint(USER, DAY) for _ in range(10)))
    assert results.count(True) == 1
    assert not await store.topup_hint_due(4242, DAY)
