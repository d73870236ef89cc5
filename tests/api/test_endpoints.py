"""Every endpoint of the client against the sandbox, over real HTTP."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.api import Account, ApiKey, Country, JiemaClient, Order, Price, Service
from bot.sandbox import SandboxServer
from tests.api.helpers import MakeKey

SERVICE, COUNTRY = "tg", 7  # Telegram in Malaysia: sold by the sandbox's catalogue.


async def price_of(client: JiemaClient, key: ApiKey, service: str, country_id: int) -> int:
    return next(
        p.price_cents for p in await client.prices(key, service) if p.country_id == country_id
    )


async def test_account_returns_the_profile_and_the_balance_as_int_cents(
    server: SandboxServer, client: JiemaClient, make_key: MakeKey
) -> None:
    key = make_key(server, balance_cents=1234, display_name="Alice", lang="it")
    account = await client.account(key)
    assert isinstance(account, Account)
    assert account.balance_cents == 1234
    assert type(account.balance_cents) is int
    assert account.id == server.account_id(key.secret)
    assert account.display_name == "Alice"
    assert account.lang == "it"
    assert isinstance(account.referral_code, str)
    assert account.referral_code


async def test_services_lists_the_whole_catalogue_with_typed_fields(
    client: JiemaClient, key: ApiKey
) -> None:
    services = await client.services(key)
    assert len(services) == 700
    assert len({s.code for s in services}) == len(services)
    for service in services:
        assert isinstance(service, Service)
        assert isinstance(service.code, str)
        assert service.code
        assert isinstance(service.slug, str)
        assert isinstance(service.name, str)
        assert type(service.total_count) is int
        assert type(service.country_count) is int
        assert isinstance(service.min_cost_usd, Decimal)
        assert service.min_cost_usd > 0
        # The API's float of dollars is kept exact: at most two decimals.
        assert service.min_cost_usd == service.min_cost_usd.quantize(Decimal("0.01"))
    telegram = next(s for s in services if s.code == SERVICE)
    assert (telegram.slug, telegram.name) == ("telegram", "Telegram")
    assert telegram.total_count > 0
    assert telegram.country_count > 0


async def test_countries_have_int_ids_and_iso_slugs(client: JiemaClient, key: ApiKey) -> None:
    countries = await client.countries(key)
    assert len(countries) > 100
    assert all(isinstance(c, Country) and type(c.id) is int for c in countries)
    assert all(len(c.slug) == 2 and c.slug.islower() for c in countries)
    assert Country(id=7, slug="my", name="Malaysia") in countries


async def test_prices_give_int_cents_and_stock_per_country(
    client: JiemaClient, key: ApiKey
) -> None:
    prices = await client.prices(key, SERVICE)
    assert prices
    for price in prices:
        assert isinstance(price, Price)
        assert type(price.country_id) is int
        assert type(price.price_cents) is int
        assert price.price_cents > 0
        assert type(price.count) is int
    malaysia = next(p for p in prices if p.country_id == COUNTRY)
    assert malaysia.country_slug == "my"
    assert malaysia.count > 0
    assert await client.prices(key, "telegram") == prices  # The slug works as well.


async def test_create_order_charges_the_price_and_returns_a_waiting_order(
    client: JiemaClient, key: ApiKey
) -> None:
    before = (await client.account(key)).balance_cents
    price = await price_of(client, key, SERVICE, COUNTRY)
    order = await client.create_order(key, SERVICE, COUNTRY)
    assert isinstance(order, Order)
    assert order.status == "WAITING"
    assert not order.is_final
    assert (order.service, order.country) == (SERVICE, str(COUNTRY))
    assert order.phone is not None
    assert order.phone.startswith("+60")
    assert order.charged_cents == price
    assert isinstance(order.expires_at, datetime)
    assert order.created_at is not None
    assert order.expires_at > order.created_at
    assert order.sms_history == ()
    assert order.sms_body is None
    assert (await client.account(key)).balance_cents == before - price


async def test_create_order_accepts_the_service_slug_and_the_country_slug(
    client: JiemaClient, key: ApiKey
) -> None:
    order = await client.create_order(key, "telegram", "my")
    assert (order.service, order.country) == (SERVICE, str(COUNTRY))


async def test_order_shows_a_delivered_sms_as_received_with_its_history(
    server: SandboxServer, client: JiemaClient, key: ApiKey
) -> None:
    created = await client.create_order(key, SERVICE, COUNTRY)
    assert (await client.order(key, created.id)).status == "WAITING"
    server.deliver_sms(created.id, "Your code is 12345")
    order = await client.order(key, created.id)
    assert order.id == created.id
    assert order.status == "RECEIVED"
    assert not order.is_final
    assert order.sms_body == "Your code is 12345"
    assert [sms.body for sms in order.sms_history] == ["Your code is 12345"]
    assert isinstance(order.sms_history[0].received_at, datetime)
    assert (order.phone, order.charged_cents) == (created.phone, created.charged_cents)


async def test_cancel_order_refunds_the_charge(client: JiemaClient, key: ApiKey) -> None:
    before = (await client.account(key)).balance_cents
    created = await client.create_order(key, SERVICE, COUNTRY)
    assert created.charged_cents
    assert (await client.account(key)).balance_cents == before - created.charged_cents
    cancelled = await client.cancel_order(key, created.id)
    assert (cancelled.id, cancelled.status) == (created.id, "CANCELLED")
    assert cancelled.is_final
    assert (await client.account(key)).balance_cents == before
    assert (await client.order(key, created.id)).status == "CANCELLED"


async def test_next_sms_waits_again_and_the_second_sms_is_appended(
    server: SandboxServer, client: JiemaClient, key: ApiKey
) -> None:
    created = await client.create_order(key, SERVICE, COUNTRY)
    server.deliver_sms(created.id, "first 111111")
    waiting = await client.next_sms(key, created.id)
    assert (waiting.id, waiting.status) == (created.id, "WAITING")
    assert [sms.body for sms in waiting.sms_history] == ["first 111111"]
    server.deliver_sms(created.id, "second 222222")
    order = await client.order(key, created.id)
    assert order.status == "RECEIVED"
    assert [sms.body for sms in order.sms_history] == ["first 111111", "second 222222"]
    assert order.sms_body == "second 222222"
    first, second = (sms.received_at for sms in order.sms_history)
    assert first is not None
    assert second is not None
    assert first <= second


async def test_orders_paginates_with_a_cursor_newest_first(
    client: JiemaClient, key: ApiKey
) -> None:
    created = [(await client.create_order(key, SERVICE, COUNTRY)).id for _ in range(5)]
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await client.orders(key, limit=2, cursor=cursor)
        pages.append([order.id for order in page.items])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(ids) for ids in pages] == [2, 2, 1]
    assert [order_id for ids in pages for order_id in ids] == created[::-1]
    everything = await client.orders(key)
    assert [order.id for order in everything.items] == created[::-1]
    assert everything.next_cursor is None
    assert all(order.status == "WAITING" for order in everything.items)


async def test_orders_filters_by_status(client: JiemaClient, key: ApiKey) -> None:
    created = [(await client.create_order(key, SERVICE, COUNTRY)).id for _ in range(4)]
    for order_id in created[:2]:
        await client.cancel_order(key, order_id)
    cancelled = await client.orders(key, status="CANCELLED")
    assert {order.id for order in cancelled.items} == set(created[:2])
    assert all(order.status == "CANCELLED" and order.is_final for order in cancelled.items)
    waiting = await client.orders(key, status="WAITING", limit=1)
    assert [order.id for order in waiting.items] == [created[3]]
    assert waiting.next_cursor is not None
    rest = await client.orders(key, status="WAITING", limit=1, cursor=waiting.next_cursor)
    assert [order.id for order in rest.items] == [created[2]]
    assert rest.next_cursor is None


async def test_orders_of_a_new_account_is_one_empty_page(client: JiemaClient, key: ApiKey) -> None:
    page = await client.orders(key)
    assert page.items == ()
    assert page.next_cursor is None
