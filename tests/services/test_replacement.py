"""Automatic replacement against the real sandbox, client, fake Bot API and both databases:
a swap claimed once, resumed from every state after a crash, never buying before the
refund is confirmed, keeping an order whose SMS came mid-swap."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.api import JiemaClient
from bot.api.limiter import Bucket
from bot.app import build_bot
from bot.config import Settings
from bot.fakebotapi import FakeBotApi, FakeUser
from bot.metrics import Metrics
from bot.notifier import TelegramNotifier
from bot.outbox import Outbox
from bot.sandbox import SandboxConfig, SandboxServer
from bot.services.accounts import AccountService
from bot.services.catalog import Catalog, Offer
from bot.services.orders import Acted, Action, OrderService
from bot.services.purchases import Bought, PurchaseService, Quote
from bot.services.rates import DeliveryRates, Rate
from bot.services.replacement import (
    GaveUp,
    Kept,
    Replaced,
    ReplacementService,
    ReplaceRules,
    choose_country,
)
from bot.store import Store, StoredOrder, SwapState, open_store
from bot.tracker import OrderTracker
from bot.vault import KeyVault, generate_secret
from tests.pg import fresh_database

USER = 1001
AFTER = timedelta(minutes=5)


class Clock:
    """The wall clock of the store and the services, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Parts:
    """What every replica shares: the sandbox, Telegram, the API client, the database."""

    sandbox: SandboxServer
    telegram: FakeBotApi
    api: JiemaClient
    bot: Any
    vault: KeyVault
    clock: Clock
    database_url: str | None
    data_dir: Path
    stores: list[Store]

    async def open(self) -> Store:
        """Another connection to the one database (another replica's store)."""
        store = await open_store(self.database_url, self.data_dir, clock=self.clock)
        self.stores.append(store)
        return store


class Replica:
    """One process's services over the shared parts."""

    def __init__(self, parts: Parts, store: Store, name: str, max_replacements: int) -> None:
        self.parts = parts
        self.store = store
        api = parts.api
        self.accounts = AccountService(api, store, parts.vault)
        self.catalog = Catalog(api, prices_ttl=0.0)
        self.rates = DeliveryRates(store)
        self.purchases = PurchaseService(
            api,
            store,
            self.accounts,
            self.catalog,
            rates=self.rates,
            sleep=_no_sleep,
            now=parts.clock,
        )
        self.notifier = TelegramNotifier(parts.bot, store, Metrics(), clock=parts.clock)
        self.outbox = Outbox(store, self.notifier, replica=name, clock=parts.clock)
        self.tracker = OrderTracker(store, self.notifier, self.outbox, rates=self.rates)
        self.service = ReplacementService(
            api,
            store,
            self.accounts,
            self.catalog,
            self.purchases,
            self.tracker,
            self.notifier,
            self.rates,
            rules=ReplaceRules(after=AFTER, max_replacements=max_replacements),
            replica_id=name,
            now=parts.clock,
        )


class World:
    def __init__(self, parts: Parts, store: Store, key: str, user: FakeUser) -> None:
        self.parts = parts
        self.sandbox = parts.sandbox
        self.clock = parts.clock
        self.store = store
        self.key = key
        self.user = user
        self.a = Replica(parts, store, "replica-a", 3)

    def replica(self, store: Store, name: str, max_replacements: int = 3) -> Replica:
        return Replica(self.parts, store, name, max_replacements)

    async def buy(self, country: int | None = None, *, auto: bool = True) -> StoredOrder:
        country = country if country is not None else self.country()
        quote = await self.a.purchases.quote(USER, "tg", country)
        assert isinstance(quote, Quote)
        await self.a.service.set_for_confirmation(USER, quote.purchase.token, auto)
        bought = await self.a.purchases.buy(USER, quote.purchase.token, 4242)
        assert isinstance(bought, Bought)
        return bought.order

    def country(self, nth: int = 0) -> int:
        return self.offers()[nth][0]

    def offers(self) -> list[tuple[int, int]]:
        """(country, price) of tg with stock, cheapest first."""
        catalogue = self.sandbox.engine.catalogue
        service = catalogue.service("tg")
        assert service is not None
        return sorted(
            ((o.country_id, o.price_cents) for o in catalogue.offers(service) if o.stock > 0),
            key=lambda o: (o[1], o[0]),
        )

    def api_orders(self) -> list[dict[str, Any]]:
        return self.sandbox.orders(self.key)

    def balance(self) -> int:
        return self.sandbox.engine.account_of_key(self.key).balance_cents

    def writes(self, path_end: str) -> int:
        return sum(
            1 for r in self.sandbox.request_log if r.method == "POST" and r.path.endswith(path_end)
        )

    def later(self, delta: timedelta = AFTER + timedelta(seconds=1)) -> None:
        self.clock.now += delta


@pytest.fixture(params=["sqlite", "postgresql"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = await stack.enter_async_context(fresh_database())
        sandbox = await stack.enter_async_context(SandboxServer(SandboxConfig(sms_delay=None)))
        telegram = FakeBotApi(token="123456:TEST", bot_username="jiema_test_bot")
        await telegram.start()
        stack.push_async_callback(telegram.stop)
        api = JiemaClient(sandbox.base_url, timeout=5.0)
        stack.push_async_callback(api.aclose)
        settings = Settings(telegram_token=telegram.token, telegram_api_url=telegram.root)
        bot = build_bot(settings, Metrics())
        await bot.initialize()
        stack.push_async_callback(bot.shutdown)
        vault = KeyVault.from_secret(generate_secret())
        parts = Parts(sandbox, telegram, api, bot, vault, Clock(), url, tmp_path, [])
        store = await parts.open()
        try:
            key = sandbox.create_account(balance_cents=10_000)
            await store.ensure_user(USER, "en")
            world = World(parts, store, key, telegram.user(USER, first_name="Ann"))
            await world.user.send("/start")
            await world.a.accounts.link(USER, key)
            yield world
        finally:
            for opened in parts.stores:
                await opened.close()


# -- the country ---------------------------------------------------------------------------


def _offer(country: int, price: int, count: int = 5) -> Offer:
    return Offer(country, f"c{country}", f"C{country}", price, count)


def test_the_same_country_while_it_has_stock_else_the_best_rated_within_the_price() -> None:
    offers = [_offer(1, 10), _offer(2, 20), _offer(3, 30), _offer(4, 40)]
    assert choose_country(offers, current="3", ceiling_cents=30) == offers[2]
    sold_out = [_offer(3, 30, count=0), *offers[:2], offers[3]]
    assert choose_country(sold_out, current="3", ceiling_cents=30) == offers[0]  # cheapest
    rates = {
        "1": Rate(percent=20, typical_seconds=None, orders=5, poor=True),
        "2": Rate(percent=90, typical_seconds=40, orders=9, poor=False),
        "4": Rate(percent=100, typical_seconds=10, orders=9, poor=False),  # above the price
    }
    assert choose_country(sold_out, current="3", ceiling_cents=30, rates=rates) == offers[1]
    assert choose_country(offers, current="3", ceiling_cents=25) == offers[0]  # 3 too dear now
    assert choose_country(offers, current="9", ceiling_cents=5) is None


# -- the rule ------------------------------------------------------------------------------


async def test_a_silent_number_is_refunded_and_replaced_in_the_same_country(
    world: World,
) -> None:
    old = await world.buy()
    assert old.auto_replace
    price = old.charged_cents
    assert await world.a.service.round() == []  # not due yet
    world.later()
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)
    assert outcome.left == 2
    api = {o["id"]: o for o in world.api_orders()}
    assert api[old.id]["status"] == "CANCELLED"
    new = outcome.new
    assert api[new.id]["status"] == "WAITING"
    assert (new.country_id, new.service) == (old.country_id, old.service)
    assert world.balance() == 10_000 - price  # one refunded, one charged
    assert (new.auto_replace, new.replaced_from, new.replaces_left) == (True, old.phone, 2)
    assert new.card_message_id == 4242  # the old card now shows the new order
    assert outcome.old.replaced_by == new.phone
    assert outcome.old.card_message_id is None
    assert outcome.old.status == "CANCELLED"
    assert outcome.old.final_notified
    swap = await world.store.get_swap(old.id)
    assert swap is not None
    assert swap.state is SwapState.BOUGHT
    await world.a.service.announced(outcome)
    swap = await world.store.get_swap(old.id)
    assert swap is not None
    assert swap.state is SwapState.DONE
    assert await world.a.service.round() == []  # the new one is not due yet


async def test_an_order_without_auto_replace_is_left_alone(world: World) -> None:
    await world.buy(auto=False)
    world.later()
    assert await world.a.service.round() == []
    assert world.writes("/cancel") == 0


async def test_a_swap_waits_while_the_key_lacks_two_free_writes(world: World) -> None:
    old = await world.buy()  # one write
    key = await world.a.accounts.key_for(USER)
    limiter = world.parts.api.limiter
    for _ in range(8):  # the user's own taps: 9 of the 10 writes a minute in use
        async with limiter.slot(key.id, Bucket.WRITE):
            pass
    world.later()
    assert await world.a.service.round() == []
    assert await world.store.get_swap(old.id) is None  # not even claimed: it waits
    assert world.writes("/cancel") == 0


async def test_two_replicas_claim_a_swap_once(world: World) -> None:
    old = await world.buy()
    b = world.replica(await world.parts.open(), "replica-b")
    world.later()
    results = await asyncio.gather(world.a.service.round(), b.service.round())
    outcomes = [o for r in results for o in r]
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], Replaced)
    assert world.writes("/cancel") == 1
    assert len(world.api_orders()) == 2
    assert outcomes[0].old.id == old.id


async def test_replace_max_is_respected(world: World) -> None:
    a = world.replica(world.store, "replica-a", max_replacements=2)
    await world.buy()
    for _ in range(3):
        world.later()
        for outcome in await a.service.round():
            assert isinstance(outcome, Replaced)
            await a.service.announced(outcome)
    orders = world.api_orders()
    assert len(orders) == 3  # the first and two replacements
    assert [o["status"] for o in orders] == ["WAITING", "CANCELLED", "CANCELLED"]
    world.later()
    assert await a.service.round() == []


async def test_an_sms_mid_swap_keeps_the_order_and_delivers_its_code(world: World) -> None:
    old = await world.buy()
    world.sandbox.deliver_sms(old.id, "Your code is 424242")  # the poller has not seen it
    world.later()
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Kept)
    assert outcome.order.sms_seen == 1
    assert world.writes("/orders") == 1  # only the first purchase: nothing bought
    swap = await world.store.get_swap(old.id)
    assert swap is not None
    assert swap.state is SwapState.KEPT
    await world.user.wait_for(lambda m: "Code: 424242" in m.text, timeout=10)
    world.later()
    assert await world.a.service.round() == []  # never claimed again
    await world.a.outbox.stop()
    codes = [m for m in world.user.messages if m.from_bot and "424242" in m.text]
    assert len(codes) == 1


async def test_nothing_is_bought_while_the_cancel_is_not_confirmed(world: World) -> None:
    old = await world.buy()
    world.later()
    world.sandbox.inject_fault("error500", 1, path=f"/v1/orders/{old.id}/cancel")
    assert await world.a.service.round() == []
    assert world.writes("/orders") == 1
    swap = await world.store.get_swap(old.id)
    assert swap is not None
    assert swap.state is SwapState.CLAIMED
    assert await world.a.service.round() == []  # not a write every round: it waits
    assert world.writes("/cancel") == 1
    world.later(timedelta(seconds=31))
    [outcome] = await world.a.service.round()  # resumed: now the cancel goes through
    assert isinstance(outcome, Replaced)
    assert world.writes("/orders") == 2


async def test_a_refused_cancel_of_an_ended_order_buys_nothing(world: World) -> None:
    old = await world.buy()
    world.sandbox.fail(old.id)
    world.later()
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, GaveUp)
    assert world.writes("/orders") == 1
    swap = await world.store.get_swap(old.id)
    assert swap is not None
    assert swap.state is SwapState.GAVE_UP


async def test_sold_out_moves_to_a_country_within_the_price_or_gives_up(world: World) -> None:
    cheapest, dearer = world.offers()[0][0], world.offers()[1][0]
    old = await world.buy(dearer)
    world.sandbox.set_stock("tg", dearer, 0)
    world.later()
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)
    assert outcome.new.country_id == str(cheapest)
    await world.a.service.announced(outcome)
    for country, _ in world.offers():
        world.sandbox.set_stock("tg", country, 0)
    world.later()
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, GaveUp)
    assert outcome.order.replaced_by == ""
    assert outcome.order.status == "CANCELLED"
    assert world.balance() == 10_000  # both refunded
    assert old.id != outcome.order.id


# -- a crash at each state -----------------------------------------------------------------


async def _dead_claim(world: World, order: StoredOrder) -> None:
    """A replica claimed the swap and died; its hold runs out."""
    hold = world.clock.now + timedelta(minutes=2)
    assert await world.store.claim_swap(order, "dead", hold) is not None


async def test_a_claim_of_a_dead_replica_is_resumed_after_its_hold(world: World) -> None:
    old = await world.buy()
    world.later()
    await _dead_claim(world, old)
    assert await world.a.service.round() == []  # held by the dead one
    world.later(timedelta(minutes=3))
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)
    assert world.writes("/cancel") == 1


async def test_a_cancel_sent_before_the_crash_is_not_sent_again_blindly(world: World) -> None:
    old = await world.buy()
    world.later()
    await _dead_claim(world, old)
    account = world.sandbox.engine.account_of_key(world.key)
    world.sandbox.engine.cancel(account, old.id)  # it went out; the answer was lost
    world.later(timedelta(minutes=3))
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)  # ALREADY_CHANGED, then the read says CANCELLED
    assert len(world.api_orders()) == 2


async def test_a_poll_that_sees_the_swap_cancel_first_tells_no_expiry(world: World) -> None:
    old = await world.buy()
    world.later()
    await _dead_claim(world, old)
    account = world.sandbox.engine.account_of_key(world.key)
    world.sandbox.engine.cancel(account, old.id)
    # The poller reads the order between the swap's cancel and its record of it.
    fresh = await world.parts.api.order(await world.a.accounts.key_for(USER), old.id)
    ended = await world.a.tracker.apply(old, fresh)
    assert ended.status == "CANCELLED"
    assert ended.final_notified  # no "it expired" notice: the swap tells what happened
    world.later(timedelta(minutes=3))
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)


async def test_a_revoked_key_gives_the_swap_up_without_buying(world: World) -> None:
    await world.buy()
    world.sandbox.revoke_key(world.key)
    world.later()
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, GaveUp)
    assert outcome.order.status == "WAITING"  # nothing could be cancelled, nothing bought
    assert world.writes("/orders") == 1


async def test_a_cancel_by_the_user_during_a_swap_buys_nothing(world: World) -> None:
    old = await world.buy()
    world.later()
    await _dead_claim(world, old)
    a = world.a
    orders = OrderService(
        world.parts.api, world.store, a.accounts, a.catalog, a.tracker, a.notifier
    )
    outcome = await orders.act(USER, old.id, Action.CANCEL)
    assert isinstance(outcome, Acted)
    swap = await world.store.get_swap(old.id)
    assert swap is not None
    assert swap.state is SwapState.GAVE_UP
    world.later(timedelta(minutes=3))
    assert await world.a.service.round() == []
    assert world.writes("/orders") == 1  # the replacement was never bought


async def test_switching_auto_replace_off_stops_a_swap_under_way(world: World) -> None:
    old = await world.buy()
    world.later()
    await _dead_claim(world, old)
    assert await world.a.service.set_for_order(USER, old.id, False) is not None
    world.later(timedelta(minutes=3))
    assert await world.a.service.round() == []
    assert world.writes("/cancel") == 0


async def test_a_crash_after_the_refund_buys_once(world: World) -> None:
    old = await world.buy()
    world.later()
    await _dead_claim(world, old)
    account = world.sandbox.engine.account_of_key(world.key)
    world.sandbox.engine.cancel(account, old.id)
    await world.store.advance_swap(old.id, SwapState.CLAIMED, SwapState.CANCELLED)
    world.later(timedelta(minutes=3))
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)
    assert world.writes("/cancel") == 0
    assert len(world.api_orders()) == 2


async def test_a_crash_after_the_create_was_sent_adopts_the_order_once(world: World) -> None:
    old = await world.buy()
    # A replica got as far as sending the create, and died before its answer came. (Not
    # waiting for the order to be due: the sandbox's clock, which dates the new order, and
    # the purchase's must stay within the reconciliation's few minutes of each other.)
    await _dead_claim(world, old)
    account = world.sandbox.engine.account_of_key(world.key)
    world.sandbox.engine.cancel(account, old.id)
    await world.store.advance_swap(old.id, SwapState.CLAIMED, SwapState.CANCELLED)
    purchase = await world.store.offer_purchase(
        USER, "tg", old.service_name, old.country_id, old.country_slug, old.charged_cents
    )
    await world.store.advance_swap(
        old.id, SwapState.CANCELLED, SwapState.BUYING, token=purchase.token
    )
    assert await world.store.claim_purchase(purchase.token, USER) is not None
    world.sandbox.engine.create_order(account, "tg", old.country_id)
    world.later(timedelta(minutes=2, seconds=1))  # the swap's hold ran out, not the purchase's
    assert await world.a.service.round() == []  # the purchase's reconciliation settles it
    swap = await world.store.get_swap(old.id)
    assert swap is not None
    assert swap.state is SwapState.BUYING
    world.later(timedelta(minutes=1))
    found, _ = await world.a.purchases.reconcile_pending()
    assert len(found) == 1
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)
    assert outcome.new.id == found[0].order.id
    assert outcome.new.replaced_from == old.phone
    assert len(world.api_orders()) == 2
    assert world.writes("/orders") == 1  # only the first purchase went through the API


async def test_a_crash_before_the_announcement_announces_on_resume(world: World) -> None:
    await world.buy()
    world.later()
    [outcome] = await world.a.service.round()
    assert isinstance(outcome, Replaced)
    b = world.replica(await world.parts.open(), "replica-b")
    assert await b.service.round() == []  # still held by replica-a
    world.later(timedelta(minutes=3))
    [again] = await b.service.round()
    assert isinstance(again, Replaced)
    assert again.new.id == outcome.new.id
    await b.service.announced(again)
    swap = await world.store.get_swap(outcome.old.id)
    assert swap is not None
    assert swap.state is SwapState.DONE


# -- the switch ----------------------------------------------------------------------------


async def test_the_default_and_the_switch_on_a_waiting_order(world: World) -> None:
    await world.a.service.set_default(USER, True)
    quote = await world.a.purchases.quote(USER, "tg", world.country())
    assert isinstance(quote, Quote)
    assert quote.purchase.auto_replace
    order = await world.buy(auto=False)
    assert not order.auto_replace
    switched = await world.a.service.set_for_order(USER, order.id, True)
    assert switched is not None
    assert switched.auto_replace
    assert await world.a.service.set_for_order(2002, order.id, False) is None
    world.sandbox.deliver_sms(order.id, "Your code is 1234")
    fresh = await world.parts.api.order(await world.a.accounts.key_for(USER), order.id)
    await world.a.tracker.apply(order, fresh)
    assert await world.a.service.set_for_order(USER, order.id, False) is None  # SMS came
