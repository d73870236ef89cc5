"""Purchases against the real sandbox, client and SQLite: once per token, reconciled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.api import JiemaClient
from bot.sandbox import SandboxConfig, SandboxServer
from bot.services.accounts import BALANCE_REUSE, AccountService
from bot.services.catalog import Catalog
from bot.services.purchases import AlreadyUsed, Bought, PurchaseService, Quote, Unconfirmed
from bot.services.rates import DeliveryRates
from bot.services.topup import TopUpService
from bot.store import Purchase, PurchaseState, Store
from bot.vault import KeyVault, generate_secret

USER = 1001


class Clock:
    """The wall clock of the purchases and the store, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Ticks:
    """The monotonic clock of the account service (its balance reuse), moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class World:
    """The real parts, and the clocks the test moves."""

    def __init__(
        self, sandbox: SandboxServer, store: Store, api: JiemaClient, key: str, clock: Clock
    ) -> None:
        self.sandbox = sandbox
        self.store = store
        self.key = key
        self.clock = clock
        self.ticks = Ticks()
        vault = KeyVault.from_secret(generate_secret())
        accounts = AccountService(api, store, vault, clock=self.ticks)
        self.accounts = accounts
        self.topup = TopUpService(accounts, store)
        self.purchases = PurchaseService(
            api,
            store,
            accounts,
            Catalog(api),
            rates=DeliveryRates(store),
            sleep=_no_sleep,
            now=clock,
        )


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def open_world(
    tmp_path: Path, config: SandboxConfig, *, api_timeout: float
) -> AsyncIterator[World]:
    """A sandbox, a store on a moved clock and a client with ``api_timeout``; USER linked."""
    async with SandboxServer(config) as sandbox:
        clock = Clock()
        store = await Store.open(tmp_path / "bot.sqlite3", clock=clock)
        api = JiemaClient(sandbox.base_url, timeout=api_timeout)
        world = World(sandbox, store, api, sandbox.create_account(balance_cents=1000), clock)
        await store.ensure_user(USER, "en")
        await world.accounts.link(USER, world.key)
        yield world
        await api.aclose()
        await store.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    config = SandboxConfig(sms_delay=None, hang_seconds=1.0)
    async with open_world(tmp_path, config, api_timeout=0.3) as world:
        yield world


async def _offered(world: World) -> Purchase:
    quote = await world.purchases.quote(USER, "tg", _country(world))
    assert isinstance(quote, Quote)
    return quote.purchase


def _country(world: World) -> int:
    catalogue = world.sandbox.engine.catalogue
    service = catalogue.service("tg")
    assert service is not None
    return next(o.country_id for o in catalogue.offers(service) if o.stock > 0)


def _account_reads(world: World) -> int:
    return sum(1 for r in world.sandbox.request_log if r.path.endswith("/v1/account"))


async def _confirm_and_buy(world: World) -> Bought:
    """As the chat does it: the confirmation, Buy, then the top-up check after buying."""
    purchase = await _offered(world)
    bought = await world.purchases.buy(USER, purchase.token)
    assert isinstance(bought, Bought)
    await world.topup.after_purchase(bought.order)
    return bought


async def test_a_purchase_reads_the_balance_once_and_the_next_ones_within_a_minute_not_at_all(
    world: World,
) -> None:
    # Polling has the key's read budget only if buying does not spend it on balances.
    reads = _account_reads(world)
    first = await _confirm_and_buy(world)
    assert _account_reads(world) - reads == 1  # the confirmation's; after buying, none
    world.ticks.now += 20
    second = await _confirm_and_buy(world)
    assert _account_reads(world) - reads == 1
    # What the confirmations and the top-up check saw is the API's balance.
    key = await world.accounts.key_for(USER)
    known = await world.accounts.recent_account(key)
    assert known.balance_cents == 1000 - first.order.charged_cents - second.order.charged_cents
    assert known == await world.accounts.account(USER)
    world.ticks.now += BALANCE_REUSE + 1
    reads = _account_reads(world)
    await _offered(world)
    assert _account_reads(world) - reads == 1


async def test_a_balance_short_of_the_price_is_read_again(world: World) -> None:
    # Shown short a moment ago, and topped up since on the website: Buy must be offered.
    world.sandbox.set_balance(world.key, 0)
    world.ticks.now += BALANCE_REUSE + 1
    quote = await world.purchases.quote(USER, "tg", _country(world))
    assert isinstance(quote, Quote)
    assert quote.account.balance_cents == 0
    world.sandbox.set_balance(world.key, 1000)
    world.ticks.now += 5
    quote = await world.purchases.quote(USER, "tg", _country(world))
    assert isinstance(quote, Quote)
    assert quote.account.balance_cents == 1000


async def test_fifty_concurrent_claims_buy_once(world: World) -> None:
    purchase = await _offered(world)
    claims = await asyncio.gather(*(world.purchases.claim(USER, purchase.token) for _ in range(50)))
    winners = [c for c in claims if isinstance(c, Purchase)]
    assert len(winners) == 1
    assert all(isinstance(c, AlreadyUsed) for c in claims if c is not winners[0])
    result = await world.purchases.create(winners[0])
    assert isinstance(result, Bought)
    again = await world.purchases.claim(USER, purchase.token)
    assert isinstance(again, AlreadyUsed)
    assert again.order == result.order
    assert len(world.sandbox.orders(world.key)) == 1


async def test_another_users_token_buys_nothing(world: World) -> None:
    purchase = await _offered(world)
    await world.store.ensure_user(2002, "en")
    assert await world.purchases.claim(2002, purchase.token) == AlreadyUsed(None)


async def test_a_lost_answer_is_adopted_from_the_order_list(world: World) -> None:
    purchase = await _offered(world)
    world.sandbox.inject_fault("drop_create", 1)
    claimed = await world.purchases.claim(USER, purchase.token)
    assert isinstance(claimed, Purchase)
    result = await world.purchases.create(claimed, card_message_id=77)
    assert isinstance(result, Bought)
    assert result.recovered
    assert result.order.card_message_id == 77
    stored = await world.store.get_purchase(purchase.token)
    assert stored is not None
    assert (stored.state, stored.order_id) == (PurchaseState.DONE, result.order.id)


async def test_an_unconfirmed_purchase_is_given_up_only_after_ten_minutes(world: World) -> None:
    purchase = await _offered(world)
    world.sandbox.set_latency(1.0)  # longer than the client's timeout: no answer, no order
    claimed = await world.purchases.claim(USER, purchase.token)
    assert isinstance(claimed, Purchase)
    assert isinstance(await world.purchases.create(claimed), Unconfirmed)
    world.sandbox.set_latency(0.0)
    assert await world.purchases.reconcile_pending() == ([], [])
    world.clock.now += timedelta(minutes=11)
    found, given_up = await world.purchases.reconcile_pending()
    assert found == []
    assert [p.token for p in given_up] == [purchase.token]
    assert await world.purchases.reconcile_pending() == ([], [])


async def test_a_crash_between_claim_and_answer_is_resolved_at_start(world: World) -> None:
    purchase = await _offered(world)
    claimed = await world.purchases.claim(USER, purchase.token)
    assert isinstance(claimed, Purchase)
    # The process died right after sending the create: the order exists, the claim is
    # still 'creating' in the database, held by the dead request for a while.
    account = world.sandbox.engine.account_of_key(world.key)
    world.sandbox.engine.create_order(account, "tg", _country(world))
    assert await world.purchases.reconcile_pending() == ([], [])
    world.clock.now += timedelta(minutes=3)
    found, given_up = await world.purchases.reconcile_pending()
    assert [b.order.service for b in found] == ["tg"]
    assert given_up == []


async def test_a_confirmation_open_in_the_chat_and_the_mini_app_buys_once(world: World) -> None:
    first = await _offered(world)
    again = await _offered(world)  # the same offer quoted a moment later (the app)
    assert again.token == first.token
    bought = await world.purchases.buy(USER, first.token)
    assert isinstance(bought, Bought)
    assert isinstance(await world.purchases.buy(USER, again.token), AlreadyUsed)
    fresh = await _offered(world)  # the next confirmation is a new purchase
    assert fresh.token != first.token
    world.clock.now += timedelta(minutes=6)  # an old one is not reused: it would expire soon
    assert (await _offered(world)).token != fresh.token
