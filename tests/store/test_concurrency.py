"""Two replicas (two Store instances, each with its own connections) racing for one claim.

On PostgreSQL the 50 callers really run in parallel on up to 10 server connections; the
guard is the SQL statement itself, not any lock in the process.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from bot.store import Store

from .conftest import USER, Backend, make_order

Claim = Callable[[Store, int], Awaitable[object]]


@pytest.fixture
async def replicas(backend: Backend, store: Store) -> AsyncIterator[tuple[Store, Store]]:
    second = await backend.open(max_size=5)
    yield store, second
    await second.close()


async def race(replicas: tuple[Store, Store], claim: Claim) -> list[object]:
    """50 concurrent calls, alternating between the two replicas."""
    return list(await asyncio.gather(*(claim(replicas[n % 2], n) for n in range(50))))


async def test_claim_purchase_has_one_winner(replicas: tuple[Store, Store]) -> None:
    first, _ = replicas
    purchase = await first.offer_purchase(USER, "tg", "Telegram", "7", "my", 32)
    results = await race(replicas, lambda s, _: s.claim_purchase(purchase.token, USER))
    assert sum(result is not None for result in results) == 1


async def test_claim_delivery_has_one_winner(replicas: tuple[Store, Store]) -> None:
    first, second = replicas
    await first.save_order(make_order())
    results = await race(replicas, lambda s, _: s.claim_delivery("ck1", 0, "code 1", None))
    assert results.count(True) == 1
    assert [d.position for d in await second.pending_deliveries()] == [0]


async def test_acquire_lease_has_one_winner(replicas: tuple[Store, Store]) -> None:
    first, _ = replicas
    ttl = timedelta(seconds=30)
    results = await race(replicas, lambda s, n: s.acquire_lease("poll:1", f"r{n}", ttl))
    assert results.count(True) == 1
    winner = results.index(True)
    assert await first.live_leases() == {"poll:1": f"r{winner}"}
