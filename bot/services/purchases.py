"""Buying a number: a quote with a single-use token, then exactly one create per token.

Money rules enforced here:

* A confirmation token is claimed atomically in SQLite before ``POST /v1/orders`` is sent,
  so a double tap, a second device or a stale button can never buy twice.
* The create is never retried. If its answer is lost (timeout, dropped connection, garbled
  body) the order may exist and be charged, so the recent order list is read and a matching
  order is adopted; a claim still unresolved is retried in the background
  (:meth:`PurchaseService.reconcile_pending`) for a while, also after a crash or restart.
* The price confirmed is the most that is paid: a confirmation older than
  :data:`PRICE_FRESH` re-reads the price before buying, and an order charged more than the
  confirmed price is cancelled at once for a full refund; either way the user is offered
  the new price (:class:`PriceRose`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.api import Account, ApiKey, JiemaClient, Order, Service
from bot.api.errors import (
    AuthError,
    InsufficientBalanceError,
    JiemaError,
    MalformedResponseError,
    NoNumbersError,
    TransportError,
)
from bot.services.accounts import AccountService, KeyUnreadableError, NotLinkedError
from bot.services.catalog import Catalog, Offer
from bot.services.rates import DeliveryRates, Rate
from bot.store import Purchase, PurchaseState, Store, StoredOrder

log = logging.getLogger(__name__)

# How far back (by the API's clock) an order may have been created to count as ours, and
# for how long an unresolved claim is looked for before it is written off.
_MATCH_SKEW = timedelta(minutes=5)
_GIVE_UP_AFTER = timedelta(minutes=10)
PRICE_FRESH = timedelta(minutes=1)
"""A confirmation older than this re-reads the price before buying (prices are cached)."""


@dataclass(frozen=True, slots=True)
class OfferGone:
    """The service or country is no longer offered (no stock, or unknown)."""


@dataclass(frozen=True, slots=True)
class Quote:
    """What the confirmation screen shows: service, offer, balance, the token, the
    country's delivery rate (None until it has enough orders), and whether the pair is one
    of the user's favourites (the ★ button)."""

    purchase: Purchase
    service: Service
    offer: Offer
    account: Account
    rate: Rate | None = None
    favourite: bool = False

    @property
    def affordable(self) -> bool:
        """The balance covers the price (else the screen offers a top-up, not Buy)."""
        return self.account.balance_cents >= self.offer.price_cents


@dataclass(frozen=True, slots=True)
class Bought:
    """An order exists; ``recovered`` when it was found after a lost answer."""

    order: StoredOrder
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class AlreadyUsed:
    """The token was claimed before (double tap, stale button); ``order`` if it bought one."""

    order: StoredOrder | None


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """The answer was lost and no matching order was found (yet); we keep looking."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The API refused the purchase (``INSUFFICIENT``, ``NO_NUMBERS``, …): nothing bought.

    ``service`` is the service code, so the front end can offer the way back to its countries.
    """

    error: JiemaError
    service: str


@dataclass(frozen=True, slots=True)
class PriceRose:
    """The price went up after the confirmation: nothing bought, or the order made was
    cancelled at once for a full refund. ``quote`` offers the new price (or says the offer
    is gone)."""

    confirmed_cents: int
    quote: Quote | OfferGone


BuyOutcome = Bought | AlreadyUsed | Unconfirmed | Refused | PriceRose

# How long a claimed purchase belongs to the request that claimed it: background
# reconciliation (on any replica) leaves it alone until then. Longer than a create can take
# (the API timeout) plus the handler's own reconciliation.
_CREATE_HOLD = timedelta(minutes=2)
# After a lost answer, the handler reconciles for a few seconds itself; then the background.
_UNKNOWN_HOLD = timedelta(seconds=30)


class PurchaseService:
    """Quotes and single-use purchases."""

    def __init__(
        self,
        api: JiemaClient,
        store: Store,
        accounts: AccountService,
        catalog: Catalog,
        *,
        rates: DeliveryRates,
        reconcile_delays: tuple[float, ...] = (0.0, 1.0, 2.0),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self._store = store
        self._accounts = accounts
        self._catalog = catalog
        self._rates = rates
        self._reconcile_delays = reconcile_delays
        self._sleep = sleep
        self._now = now

    async def quote(self, user_id: int, service: str, country_id: int) -> Quote | OfferGone:
        """Price, balance and a single-use token for (service, country): the one of an
        unused confirmation of the same offer shown a moment ago, else a fresh one.

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the API failed.
        """
        key = await self._accounts.key_for(user_id)
        svc = await self._catalog.service(key, service)
        offer = await self._catalog.offer(key, service, country_id)
        if svc is None or offer is None:
            return OfferGone()
        account = await self._accounts.recent_account(key, covering=offer.price_cents)
        user = await self._store.get_user(user_id)
        # A confirmation still open for the same thing (in the chat, or in the Mini App) is
        # shown again rather than a second one: pressing Buy in both buys once.
        purchase = await self._store.open_offer(
            user_id, service, str(country_id), offer.price_cents
        ) or await self._store.offer_purchase(
            user_id,
            service,
            svc.name,
            str(country_id),
            offer.slug,
            offer.price_cents,
            auto_replace=user is not None and user.auto_replace,
        )
        rate = (await self._rates.for_service(service)).get(str(country_id))
        favourite = await self._store.is_favourite(user_id, service, str(country_id))
        return Quote(purchase, svc, offer, account, rate, favourite)

    async def buy(
        self,
        user_id: int,
        token: str,
        card_message_id: int | None = None,
        *,
        on_claimed: Callable[[], Awaitable[None]] | None = None,
    ) -> BuyOutcome:
        """Spend the single-use token and create its order, exactly once.

        Args:
            user_id: Who pressed Buy; a token of another user is refused like a used one.
            token: The confirmation's token.
            card_message_id: The chat message that will show the order card.
            on_claimed: Awaited once the token is won, before the (slow) create: the chat
                stops the button's spinner and shows "Buying…" there.

        Raises:
            NotLinkedError: no key linked.
        """
        claimed = await self.claim(user_id, token)
        if isinstance(claimed, AlreadyUsed):
            return claimed
        if on_claimed is not None:
            await on_claimed()
        try:
            return await self.create(claimed, card_message_id)
        except JiemaError as exc:
            return Refused(exc, claimed.service)

    async def claim(self, user_id: int, token: str) -> Purchase | AlreadyUsed:
        """Spend the token (atomically, in the database): the purchase to make, or why not."""
        purchase = await self._store.claim_purchase(token, user_id, hold=_CREATE_HOLD)
        if purchase is not None:
            return purchase
        previous = await self._store.get_purchase(token)
        order = None
        if previous and previous.user_id == user_id and previous.order_id:
            order = await self._store.get_user_order(user_id, previous.order_id)
        return AlreadyUsed(order)

    async def create(
        self, purchase: Purchase, card_message_id: int | None = None
    ) -> Bought | Unconfirmed | PriceRose:
        """Create the order of a claimed purchase, exactly once, at no more than its price.

        Args:
            purchase: A purchase won by :meth:`claim`.
            card_message_id: The message that will show the order card (the confirmation),
                stored with the order at once so the poller never posts a second card.

        Raises:
            bot.api.errors.ApiError: the API refused (``INSUFFICIENT``, ``NO_NUMBERS``, …);
                nothing was bought and the token is spent.
        """
        token = purchase.token
        key = await self._accounts.key_for(purchase.user_id)
        if self._now() - purchase.created_at > PRICE_FRESH:
            self._catalog.forget_prices(purchase.service)
            offer = await self._catalog.offer(key, purchase.service, int(purchase.country_id))
            if offer is not None and offer.price_cents > purchase.price_cents:
                await self._store.finish_purchase(token, PurchaseState.FAILED)
                return await self._price_rose(purchase)
        try:
            created = await self._api.create_order(key, purchase.service, int(purchase.country_id))
        except (TransportError, MalformedResponseError) as exc:
            log.warning("create of purchase %s lost its answer (%s)", token, type(exc).__name__)
            self._accounts.forget_balance(key)  # charged or not: unknown
            await self._store.finish_purchase(
                token, PurchaseState.UNKNOWN, reconcile_after=self._now() + _UNKNOWN_HOLD
            )
            return await self._reconcile(purchase, key, self._reconcile_delays, card_message_id)
        except JiemaError as exc:
            await self._store.finish_purchase(token, PurchaseState.FAILED)
            if isinstance(exc, NoNumbersError):
                self._catalog.forget_prices(purchase.service)
            if isinstance(exc, InsufficientBalanceError):
                self._accounts.forget_balance(key)
            raise
        if created.charged_cents is not None and created.charged_cents > purchase.price_cents:
            self._accounts.forget_balance(key)  # refunded at once, or kept: read it again
            return await self._refuse_dearer(purchase, created, key, card_message_id)
        stored = await self._adopt(purchase, created, key, card_message_id)
        # The balance after buying is known without asking: the one shown less the charge.
        self._accounts.charged(key, stored.charged_cents)
        return Bought(stored)

    async def _refuse_dearer(
        self, purchase: Purchase, created: Order, key: ApiKey, card_message_id: int | None
    ) -> Bought | PriceRose:
        """The order cost more than confirmed: cancel it now (full refund, no SMS can have
        come yet) and offer the new price. Kept as bought if the cancel fails: it is a
        working number, and its card shows what it cost."""
        self._catalog.forget_prices(purchase.service)
        try:
            cancelled = await self._api.cancel_order(key, created.id)
        except JiemaError as exc:
            log.warning("dearer order %s not cancelled: %s", created.id, type(exc).__name__)
            return Bought(await self._adopt(purchase, created, key, card_message_id))
        # Stored (so no reconciliation adopts it) as ended and told: the user sees the new
        # price instead of a card, and it counts in no delivery rate.
        await self._store.save_order(
            self._stored(purchase, created, key, None, status=cancelled.status, told=True)
        )
        await self._store.finish_purchase(purchase.token, PurchaseState.DONE, created.id)
        return await self._price_rose(purchase)

    async def _price_rose(self, purchase: Purchase) -> PriceRose:
        quote = await self.quote(purchase.user_id, purchase.service, int(purchase.country_id))
        return PriceRose(purchase.price_cents, quote)

    async def reconcile_pending(self) -> tuple[list[Bought], list[Purchase]]:
        """Resolve claims left 'creating' (crash) or 'unknown' (lost answer).

        Called periodically by whichever replica holds the reconciliation lease. Claims still
        held by the request that made them (``reconcile_after`` in the future, on any
        replica) are left alone. A claim whose order is found is adopted; one still not in
        the order list after ``_GIVE_UP_AFTER`` is settled as failed: the order list would
        show it by then, so no order was made.

        Returns:
            The orders found and the purchases given up, for the caller to tell the users.
        """
        found: list[Bought] = []
        given_up: list[Purchase] = []
        for purchase in await self._store.purchases_to_reconcile():
            try:
                key = await self._accounts.key_for(purchase.user_id)
                result: Bought | Unconfirmed = await self._reconcile(purchase, key, (0.0,))
            except (JiemaError, KeyUnreadableError) as exc:
                log.info("reconcile of %s postponed: %s", purchase.token, type(exc).__name__)
                continue
            except NotLinkedError:
                result = Unconfirmed()
            if isinstance(result, Bought):
                found.append(result)
            elif self._now() - purchase.updated_at > _GIVE_UP_AFTER:
                await self._store.finish_purchase(purchase.token, PurchaseState.FAILED)
                given_up.append(purchase)
        return found, given_up

    async def _reconcile(
        self,
        purchase: Purchase,
        key: ApiKey,
        delays: tuple[float, ...],
        card_message_id: int | None = None,
    ) -> Bought | Unconfirmed:
        """Look for the order a lost create may have made, in the recent order list."""
        for delay in delays:
            await self._sleep(delay)
            try:
                page = await self._api.orders(key, limit=20)
            except AuthError:
                raise
            except JiemaError:
                continue
            for order in page.items:
                if await self._matches(purchase, order):
                    adopted = await self._adopt(purchase, order, key, card_message_id)
                    return Bought(adopted, recovered=True)
        return Unconfirmed()

    async def _matches(self, purchase: Purchase, order: Order) -> bool:
        if order.service not in (purchase.service, None) or order.country != purchase.country_id:
            return False
        if order.created_at and order.created_at < purchase.updated_at - _MATCH_SKEW:
            return False
        return await self._store.get_order(order.id) is None

    async def _adopt(
        self, purchase: Purchase, order: Order, key: ApiKey, card_message_id: int | None
    ) -> StoredOrder:
        stored = self._stored(purchase, order, key, card_message_id)
        await self._store.save_order(stored)
        await self._store.finish_purchase(purchase.token, PurchaseState.DONE, order.id)
        await self._store.touch_service(purchase.user_id, purchase.service)
        return await self._store.get_order(order.id) or stored

    def _stored(
        self,
        purchase: Purchase,
        order: Order,
        key: ApiKey,
        card_message_id: int | None,
        *,
        status: str | None = None,
        told: bool = False,
    ) -> StoredOrder:
        return StoredOrder(
            id=order.id,
            user_id=purchase.user_id,
            key_fingerprint=self._accounts.fingerprint(key),
            service=purchase.service,
            service_name=purchase.service_name,
            country_id=purchase.country_id,
            country_slug=purchase.country_slug,
            phone=order.phone or "",
            status=status or order.status,
            expires_at=order.expires_at,
            charged_cents=(
                order.charged_cents if order.charged_cents is not None else purchase.price_cents
            ),
            card_message_id=card_message_id,
            auto_replace=purchase.auto_replace,
            confirmed_cents=purchase.price_cents,
            created_at=self._now(),
            updated_at=self._now(),
            final_notified=told,
        )
