"""Live orders on the real store, with a clock the test moves: bounds, fan-out and caps."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.services.live import End, Listener, LiveOrders, NotYoursError, StreamsFull
from bot.services.miniapp import MiniApp, OrderState
from bot.services.purchases import Bought, Quote
from tests.api.helpers import wait_until
from tests.webapp.conftest import ALICE, BOB, Reads, Shop


class Ticker:
    """Monotonic time that moves only when the test lets a sleeping watcher wake."""

    def __init__(self) -> None:
        self.now = 0.0
        self._asleep: asyncio.Queue[tuple[float, asyncio.Future[None]]] = asyncio.Queue()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._asleep.put_nowait((seconds, woken))
        await woken

    async def tick(self, live: LiveOrders) -> None:
        """Wake the watcher after its interval, and wait for its round to end."""
        async with asyncio.timeout(5):
            seconds, woken = await self._asleep.get()
        self.now += seconds
        woken.set_result(None)
        await wait_until(lambda: not self._asleep.empty() or not live.watchers())
        for _ in range(5):
            await asyncio.sleep(0)  # the listeners' readers take what the round pushed


async def _order(shop: Shop) -> str:
    catalogue = shop.sandbox.engine.catalogue
    service = catalogue.service("tg")
    assert service is not None
    country = next(o.country_id for o in catalogue.offers(service) if o.stock > 0)
    quote = await shop.services.purchases.quote(ALICE, "tg", country)
    assert isinstance(quote, Quote)
    bought = await shop.services.purchases.buy(ALICE, quote.purchase.token)
    assert isinstance(bought, Bought)
    return bought.order.id


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


def _live(shop: Shop, ticker: Ticker, **limits: Any) -> LiveOrders:
    return LiveOrders(
        shop.services.orders, interval=1.0, sleep=ticker.sleep, clock=ticker, **limits
    )


async def _collect(listener: Listener) -> list[OrderState | None]:
    return [item async for item in listener]


async def _ticks_until_done(ticker: Ticker, live: LiveOrders, task: asyncio.Task[Any]) -> None:
    deadline = time.monotonic() + 10
    while not task.done():
        assert time.monotonic() < deadline
        await ticker.tick(live)


async def test_a_quiet_order_gets_heartbeats_and_the_stream_ends_at_its_limit(
    shop: Shop, ticker: Ticker
) -> None:
    live = _live(shop, ticker, heartbeat=10.0, max_duration=35.0)
    listener = await live.follow(ALICE, await _order(shop))
    seen = asyncio.create_task(_collect(listener))
    await _ticks_until_done(ticker, live, seen)
    items = seen.result()
    assert isinstance(items[0], OrderState)
    assert items[1:] == [None, None, None]  # at 10, 20 and 30 s
    assert (listener.end, ticker.now) == (End.EXPIRED, 35.0)
    assert (live.listeners(), live.watchers()) == (0, 0)


async def test_the_stream_ends_with_the_final_state(shop: Shop, ticker: Ticker) -> None:
    live = _live(shop, ticker)
    app = MiniApp(shop.services, live)
    order_id = await _order(shop)
    listener = await app.follow(ALICE, order_id)
    first = await anext(listener)
    assert first is not None
    assert not first.order.is_final
    await app.cancel(ALICE, order_id)
    rest = asyncio.create_task(_collect(listener))
    await _ticks_until_done(ticker, live, rest)
    assert [s.order.status for s in rest.result() if s is not None] == ["CANCELLED"]
    assert listener.end is End.FINAL
    assert ticker.now < 600
    # A final order is answered at once, without a watcher.
    again = await app.follow(ALICE, order_id)
    assert [s.order.status for s in await _collect(again) if s] == ["CANCELLED"]
    assert live.watchers() == 0


async def test_nobody_follows_another_users_order(shop: Shop, ticker: Ticker) -> None:
    live = _live(shop, ticker)
    order_id = await _order(shop)
    with pytest.raises(NotYoursError):
        await live.follow(BOB, order_id)
    await live.follow(ALICE, order_id)  # now watched: still not Bob's
    with pytest.raises(NotYoursError):
        await live.follow(BOB, order_id)
    await live.close()


async def test_one_read_per_round_however_many_pages_follow(
    shop: Shop, ticker: Ticker, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _live(shop, ticker, per_user=100)
    order_id = await _order(shop)
    reads = Reads(monkeypatch)
    pages = [await live.follow(ALICE, order_id) for _ in range(20)]
    for page in pages:
        assert await anext(page) is not None  # the state now
    assert reads.count == 1  # the first page's ownership check; the others join its watcher
    assert live.watchers() == 1
    for _ in range(10):
        await ticker.tick(live)
    assert reads.count == 1 + 10
    shop.sandbox.deliver_sms(order_id, "code 5151")
    deadline = time.monotonic() + 10
    while not await shop.services.store.deliveries_for(order_id):  # the poller records it
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await ticker.tick(live)
    for page in pages:
        fresh = await anext(page)
        assert fresh is not None
        assert [d.body for d in fresh.deliveries] == ["code 5151"]
    await live.close()


async def test_a_users_streams_are_capped_the_oldest_closed_first(
    shop: Shop, ticker: Ticker
) -> None:
    live = _live(shop, ticker, per_user=3)
    order_id = await _order(shop)
    pages = [await live.follow(ALICE, order_id) for _ in range(50)]
    assert live.listeners(ALICE) == 3
    assert [p.end for p in pages[:47]] == [End.REPLACED] * 47
    assert [p.end for p in pages[47:]] == [None] * 3
    await live.close()
    assert [p.end for p in pages[47:]] == [End.CLOSING] * 3


async def test_the_process_holds_at_most_its_total(shop: Shop, ticker: Ticker) -> None:
    live = _live(shop, ticker, per_user=10, total=2)
    order_id = await _order(shop)
    await live.follow(ALICE, order_id)
    second = await live.follow(ALICE, order_id)
    with pytest.raises(StreamsFull):
        await live.follow(ALICE, order_id)
    live.leave(second)
    await live.follow(ALICE, order_id)
    await live.close()


async def test_a_page_that_went_away_is_dropped_at_the_next_round(
    shop: Shop, ticker: Ticker
) -> None:
    live = _live(shop, ticker)
    gone = False
    listener = await live.follow(ALICE, await _order(shop), gone=lambda: gone)
    await ticker.tick(live)
    assert live.listeners() == 1
    gone = True
    await ticker.tick(live)
    assert (live.listeners(), live.watchers(), listener.end) == (0, 0, End.GONE)
