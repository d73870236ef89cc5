"""Actions on an existing order: view, refresh, cancel, another SMS, history.

Every action first loads the order from SQLite *for the person asking* (ownership is part of
the query), so a forged or forwarded button can never act on someone else's order.
"""

from __future__ import annotations

from bot.api import JiemaClient, Order, OrderPage
from bot.api.errors import NotFoundError
from bot.services.accounts import AccountService
from bot.services.catalog import Catalog
from bot.store import Store, StoredOrder


class NotYoursError(Exception):
    """The order does not exist for this user (unknown id, or another user's)."""


class OrderService:
    """Thin use cases over the API; what changed is handed to the tracker by the caller."""

    def __init__(
        self, api: JiemaClient, store: Store, accounts: AccountService, catalog: Catalog
    ) -> None:
        self._api = api
        self._store = store
        self._accounts = accounts
        self._catalog = catalog

    async def get(self, user_id: int, order_id: str) -> StoredOrder:
        """The user's order from SQLite.

        Raises:
            NotYoursError: unknown id or another user's order.
        """
        order = await self._store.get_user_order(user_id, order_id)
        if order is None:
            raise NotYoursError
        return order

    async def fetch(self, user_id: int, order_id: str) -> tuple[StoredOrder, Order]:
        """The stored order and its fresh state from the API (which also syncs it)."""
        stored = await self.get(user_id, order_id)
        key = await self._accounts.key_for(user_id)
        return stored, await self._api.order(key, order_id)

    async def cancel(self, user_id: int, order_id: str) -> tuple[StoredOrder, Order]:
        """Cancel for a refund; raises ``CodeReceivedError``/``AlreadyChangedError`` if not."""
        stored = await self.get(user_id, order_id)
        key = await self._accounts.key_for(user_id)
        await self._api.cancel_order(key, order_id)
        return stored, await self._api.order(key, order_id)

    async def next_sms(self, user_id: int, order_id: str) -> tuple[StoredOrder, Order]:
        """Ask for another SMS on the same number."""
        stored = await self.get(user_id, order_id)
        key = await self._accounts.key_for(user_id)
        await self._api.next_sms(key, order_id)
        return stored, await self._api.order(key, order_id)

    async def history(self, user_id: int, cursor: str | None, limit: int = 5) -> OrderPage:
        """One page of the user's orders as the API lists them."""
        key = await self._accounts.key_for(user_id)
        return await self._api.orders(key, limit=limit, cursor=cursor)

    async def adopt(self, user_id: int, order_id: str) -> StoredOrder:
        """Start tracking an order the bot did not make (bought on the website, say).

        The API decides ownership: it answers 404 for an order of another account.

        Raises:
            NotFoundError: the API does not know the order for this user's key.
        """
        key = await self._accounts.key_for(user_id)
        order = await self._api.order(key, order_id)
        service = await self._catalog.service(key, order.service or "")
        countries = await self._catalog.countries(key)
        country_id = order.country or ""
        country = countries.get(int(country_id)) if country_id.isdigit() else None
        stored = StoredOrder(
            id=order.id,
            user_id=user_id,
            key_fingerprint=self._accounts.fingerprint(key),
            service=order.service or "",
            service_name=service.name if service else order.service or "?",
            country_id=order.country or "",
            country_slug=country.slug if country else "",
            phone=order.phone or "",
            status=order.status,
            expires_at=order.expires_at,
            charged_cents=order.charged_cents or 0,
            final_notified=order.is_final,
        )
        if not await self._store.save_order(stored):
            raise NotFoundError(404, "NOT_FOUND", "tracked for another user")
        return await self.get(user_id, order.id)
