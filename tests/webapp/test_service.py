"""The live stream's bounds, on the real store, with a clock the test moves."""

from __future__ import annotations

import pytest

from bot.services.miniapp import MiniApp, NotYoursError, OrderState
from bot.services.purchases import Bought, Quote
from tests.webapp.conftest import ALICE, BOB, Shop


class Clock:
    """Monotonic time that moves only when the stream sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


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


async def test_a_quiet_order_gets_heartbeats_and_the_stream_ends_at_its_limit(
    shop: Shop,
) -> None:
    clock = Clock()
    app = MiniApp(shop.services, sleep=clock.sleep, clock=clock)
    order_id = await _order(shop)
    seen = [
        item
        async for item in await app.watch(
            ALICE, order_id, interval=1.0, heartbeat=10.0, max_duration=35.0
        )
    ]
    assert isinstance(seen[0], OrderState)
    assert seen[1:] == [None, None, None]  # at 10, 20 and 30 s
    assert clock.now == 35.0


async def test_the_stream_ends_with_the_final_state(shop: Shop) -> None:
    clock = Clock()
    app = MiniApp(shop.services, sleep=clock.sleep, clock=clock)
    order_id = await _order(shop)
    stream = await app.watch(ALICE, order_id, interval=1.0, max_duration=600.0)
    first = await anext(stream)
    assert first is not None
    assert not first.order.is_final
    await app.cancel(ALICE, order_id)
    rest = [item async for item in stream]
    assert len(rest) == 1
    assert rest[0] is not None
    assert rest[0].order.status == "CANCELLED"
    assert clock.now < 600


async def test_nobody_watches_another_users_order(shop: Shop) -> None:
    app = MiniApp(shop.services)
    order_id = await _order(shop)
    with pytest.raises(NotYoursError):
        await app.watch(BOB, order_id)
