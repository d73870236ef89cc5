"""Automatic replacement of a number that gets no SMS: the rule, and the swap it runs.

An order with auto-replace on that has had no SMS for ``REPLACE_AFTER`` minutes is
cancelled for a full refund and a new number of the same service is bought (the same
country while it has stock, else the best-rated country at or below the price the user
confirmed), at most ``REPLACE_MAX`` times in a row. Money rules:

* a swap is claimed in the database (one row per replaced order) before anything is sent,
  so a second replica, or a restart, never cancels or buys twice;
* nothing is bought before the API confirmed the refund (the cancel answered
  ``CANCELLED``); if an SMS came meanwhile (``CODE_RECEIVED``, or the order read shows it)
  the order is kept and its code delivered like any other;
* the buy goes through a single-use purchase token (:class:`PurchaseService`): a create
  is sent once, and a lost answer or a crash after it is reconciled from the order list;
* every step is a state of the swap (see :class:`~bot.store.SwapState`), written before
  the next request, so whichever replica picks it up next resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.api import ApiKey, JiemaClient, Order, Priority
from bot.api.errors import AuthError, CodeReceivedError, JiemaError, TransportError
from bot.api.limiter import Bucket
from bot.order_status import OrderStatus
from bot.outbox import Notifier
from bot.services.accounts import AccountService, NotLinkedError
from bot.services.catalog import Catalog, Offer
from bot.services.purchases import AlreadyUsed, PriceRose, PurchaseService, Unconfirmed
from bot.services.rates import NO_RATES, DeliveryRates, Rate, best_chance
from bot.store import OPEN_SWAP_STATES, PurchaseState, Store, StoredOrder, Swap, SwapState
from bot.tracker import OrderTracker

log = logging.getLogger(__name__)

__all__ = [
    "GaveUp",
    "Kept",
    "ReplaceRules",
    "Replaced",
    "ReplacementService",
    "SwapOutcome",
    "choose_country",
]

_WRITES_PER_SWAP = 2  # the cancel and the create


def choose_country(
    offers: Sequence[Offer],
    *,
    current: str,
    ceiling_cents: int,
    rates: Mapping[str, Rate] = NO_RATES,
) -> Offer | None:
    """Where to buy the replacement: the same country while it has stock at or below
    ``ceiling_cents``, else the best chance among those with stock at or below it
    (:func:`bot.services.rates.best_chance`: by delivery rate, then price), or None when
    there is none."""
    affordable = [o for o in offers if o.count > 0 and o.price_cents <= ceiling_cents]
    for offer in affordable:
        if str(offer.country_id) == current:
            return offer
    ranked = best_chance(affordable, rates)
    return ranked[0] if ranked else None


@dataclass(frozen=True, slots=True)
class ReplaceRules:
    """The operator's settings.

    Attributes:
        after: How long an order may go without an SMS (``REPLACE_AFTER``).
        max_replacements: How many times one purchase is replaced at most (``REPLACE_MAX``).
        hold: How long a replica holds a swap it works on; after that (it died) another
            one resumes it. Longer than a cancel and a create can take.
        retry: How long a swap that failed (API down, cancel not confirmed) waits here.
    """

    after: timedelta = timedelta(minutes=5)
    max_replacements: int = 3
    hold: timedelta = timedelta(minutes=2)
    retry: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Replaced:
    """``old`` was refunded and ``new`` bought; ``left`` more replacements are allowed."""

    old: StoredOrder
    new: StoredOrder
    left: int


@dataclass(frozen=True, slots=True)
class Kept:
    """An SMS came during the swap: the order stays (its code goes out as usual)."""

    order: StoredOrder


@dataclass(frozen=True, slots=True)
class GaveUp:
    """``order`` ended (refunded, if the API cancelled it) and no replacement was bought."""

    order: StoredOrder


SwapOutcome = Replaced | Kept | GaveUp


class ReplacementService:
    """Switching auto-replace, and running swaps (driven by :class:`bot.replacer.Replacer`).

    Args:
        notifier: Redraws a card after its switch was pressed (in the chat or the Mini App).
        replica_id: This process's name in the swaps' claims.
        now: Wall clock (UTC) for due times and holds.
    """

    def __init__(
        self,
        api: JiemaClient,
        store: Store,
        accounts: AccountService,
        catalog: Catalog,
        purchases: PurchaseService,
        tracker: OrderTracker,
        notifier: Notifier,
        rates: DeliveryRates,
        *,
        rules: ReplaceRules,
        replica_id: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self._store = store
        self._accounts = accounts
        self._catalog = catalog
        self._purchases = purchases
        self._tracker = tracker
        self._notifier = notifier
        self._rates = rates
        self.rules = rules
        self._replica = replica_id
        self._now = now
        self._paused: dict[str, datetime] = {}  # swaps that failed here, and their next try

    # -- the switch -------------------------------------------------------------------------

    async def set_default(self, user_id: int, on: bool) -> None:
        """``/settings``: whether new confirmations start with auto-replace on."""
        await self._store.set_auto_replace_default(user_id, on)

    async def set_for_confirmation(self, user_id: int, token: str, on: bool) -> bool:
        """The switch on a confirmation; False when it is used or not the user's."""
        return await self._store.set_purchase_auto_replace(token, user_id, on)

    async def set_for_order(self, user_id: int, order_id: str, on: bool) -> StoredOrder | None:
        """The switch on a waiting order (its card is redrawn); None when the order is not
        the user's or no longer waits for its first SMS."""
        if not await self._store.set_order_auto_replace(user_id, order_id, on):
            return None
        if not on:
            await self._store.abandon_swap(order_id)  # one under way buys nothing now
        order = await self._store.get_user_order(user_id, order_id)
        if order is not None:
            await self._notifier.show_card(order, now=True)
        return order

    def replaces_left(self, order: StoredOrder) -> int:
        """How many more times ``order``'s chain may be replaced."""
        if order.replaces_left is None:
            return self.rules.max_replacements
        return min(order.replaces_left, self.rules.max_replacements)

    # -- swaps ------------------------------------------------------------------------------

    async def round(self) -> list[SwapOutcome]:
        """Resume unfinished swaps, then start one for every order that is due."""
        outcomes: list[SwapOutcome] = []
        now = self._now()
        for unfinished in await self._store.swaps_to_resume(self._replica):
            if self._paused.get(unfinished.order_id, now) > now:
                continue  # failed a moment ago: not a write every round
            taken = await self._store.take_swap(unfinished.order_id, self._replica, self._until())
            if taken is not None and (outcome := await self._guarded(taken)) is not None:
                outcomes.append(outcome)
        if self.rules.max_replacements <= 0:
            return outcomes
        for order in await self._store.orders_to_replace(self._now() - self.rules.after):
            if self.replaces_left(order) <= 0 or not await self._has_writes(order.user_id):
                continue
            claimed = await self._store.claim_swap(order, self._replica, self._until())
            if claimed is not None and (outcome := await self._guarded(claimed)) is not None:
                outcomes.append(outcome)
        return outcomes

    async def announced(self, outcome: Replaced) -> None:
        """The user was told of the new number: the swap is finished."""
        await self._store.advance_swap(outcome.old.id, SwapState.BOUGHT, SwapState.DONE)

    def _until(self) -> datetime:
        return self._now() + self.rules.hold

    async def _has_writes(self, user_id: int) -> bool:
        """Whether the key has room for a swap's two writes now, so the swap neither waits
        for the limiter nor takes the user's own taps' room; else it waits a round."""
        try:
            key = await self._accounts.key_for(user_id)
        except NotLinkedError:
            return False
        limits = self._api.limiter.limits
        return self._api.limiter.used(key.id, Bucket.WRITE) <= limits.writes - _WRITES_PER_SWAP

    async def _guarded(self, swap: Swap) -> SwapOutcome | None:
        """Run a swap as far as it goes now; a failure leaves it to be resumed after
        ``rules.retry`` (at once after a restart), a refused key gives it up."""
        try:
            outcome = await self._run(swap)
        except (AuthError, NotLinkedError) as exc:
            log.info("swap of order %s given up at %s: %s", swap.order_id, swap.state, exc)
            current = await self._store.get_swap(swap.order_id)
            old = await self._store.get_order(swap.order_id)
            if current is None or old is None or current.state not in OPEN_SWAP_STATES:
                return None
            return await self._give_up(old, current.state)
        except (JiemaError, _Paused) as exc:
            log.info("swap of order %s paused at %s: %s", swap.order_id, swap.state, exc)
            self._paused[swap.order_id] = self._now() + self.rules.retry
            return None
        self._paused.pop(swap.order_id, None)
        return outcome

    async def _run(self, swap: Swap) -> SwapOutcome | None:
        old = await self._store.get_order(swap.order_id)
        if old is None:
            return None
        key = await self._accounts.key_for(swap.user_id)
        state = swap.state
        if state is SwapState.CLAIMED:
            outcome = await self._cancel(old, key)
            if outcome is not None:
                return outcome
            state = SwapState.CANCELLED
        if state is SwapState.CANCELLED:
            token = await self._offer(old, key)
            if token is None:
                return await self._give_up(old, SwapState.CANCELLED)
            state = SwapState.BUYING
            swap = replace(swap, state=state, token=token)
        if state is SwapState.BUYING:
            new = await self._buy(old, swap)
            if new is None:
                return None
            if isinstance(new, GaveUp):
                return await self._give_up(old, SwapState.BUYING)
            return await self._bought(old, new)
        if state is SwapState.BOUGHT and swap.new_order_id is not None:
            new_order = await self._store.get_order(swap.new_order_id)
            if new_order is not None:
                fresh = await self._store.get_order(old.id) or old
                return Replaced(fresh, new_order, self.replaces_left(new_order))
        return None

    async def _cancel(self, old: StoredOrder, key: ApiKey) -> SwapOutcome | None:
        """Cancel for the refund. None once the API confirmed it (swap now ``cancelled``)."""
        try:
            answer: Order | None = await self._api.cancel_order(key, old.id)
        except CodeReceivedError:
            answer = None
        except TransportError:
            raise  # unknown whether it went through: the read after a retry tells
        except JiemaError as exc:  # ALREADY_CHANGED and the like: the read tells
            log.info("cancel of %s for a swap refused: %s", old.id, exc)
            answer = None
        if answer is None or answer.status != OrderStatus.CANCELLED or answer.sms_history:
            answer = await self._api.order(key, old.id, priority=Priority.BACKGROUND)
        if answer.sms_history:
            await self._tracker.apply(old, answer)
            await self._store.advance_swap(old.id, SwapState.CLAIMED, SwapState.KEPT)
            return Kept(await self._store.get_order(old.id) or old)
        if answer.status == OrderStatus.CANCELLED:
            await self._tracker.apply(old, answer, user_ended=True)
            if not await self._store.advance_swap(old.id, SwapState.CLAIMED, SwapState.CANCELLED):
                raise _Lost(old.id)
            return None
        if answer.is_final:
            await self._tracker.apply(old, answer)
            return await self._give_up(old, SwapState.CLAIMED)
        raise _StillWaiting(old.id)

    async def _offer(self, old: StoredOrder, key: ApiKey) -> str | None:
        """Pick the country and record the purchase that buys there; its token, or None
        when no country has stock at or below the confirmed price. The prices are read
        fresh (one read): a cached stock of a minute ago would buy into ``NO_NUMBERS``."""
        self._catalog.forget_prices(old.service)
        offers = await self._catalog.offers(key, old.service, priority=Priority.BACKGROUND)
        ceiling = old.confirmed_cents if old.confirmed_cents is not None else old.charged_cents
        rates = await self._rates.for_service(old.service)
        offer = choose_country(offers, current=old.country_id, ceiling_cents=ceiling, rates=rates)
        if offer is None:
            return None
        purchase = await self._store.offer_purchase(
            old.user_id,
            old.service,
            old.service_name,
            str(offer.country_id),
            offer.slug,
            offer.price_cents,
            auto_replace=True,
        )
        if not await self._store.advance_swap(
            old.id, SwapState.CANCELLED, SwapState.BUYING, token=purchase.token
        ):
            raise _Lost(old.id)
        return purchase.token

    async def _buy(self, old: StoredOrder, swap: Swap) -> StoredOrder | GaveUp | None:
        """Create the order of the swap's purchase, once. None: not known yet (the
        purchase's create is in flight or being reconciled), resumed later."""
        purchase = await self._store.get_purchase(swap.token or "")
        if purchase is None:
            return GaveUp(old)
        if purchase.state is PurchaseState.OFFERED:
            claimed = await self._purchases.claim(old.user_id, purchase.token)
            if not isinstance(claimed, AlreadyUsed):
                try:
                    bought = await self._purchases.create(claimed, old.card_message_id)
                except JiemaError as exc:
                    log.info("replacement of %s not bought: %s", old.id, exc)
                    return GaveUp(old)
                if isinstance(bought, PriceRose):  # charged more: refunded at once
                    log.info("replacement of %s not bought: the price rose", old.id)
                    return GaveUp(old)
                return None if isinstance(bought, Unconfirmed) else bought.order
            # Claimed meanwhile (a replica whose hold ran out), or too old to claim.
            purchase = await self._store.get_purchase(purchase.token)
            if purchase is None or purchase.state is PurchaseState.OFFERED:
                return GaveUp(old)
        if purchase.state is PurchaseState.DONE and purchase.order_id is not None:
            return await self._store.get_order(purchase.order_id)
        if purchase.state is PurchaseState.FAILED:
            return GaveUp(old)
        return None  # creating / unknown: the purchases' reconciliation settles it

    async def _bought(self, old: StoredOrder, new: StoredOrder) -> Replaced:
        left = self.replaces_left(old) - 1
        ceiling = old.confirmed_cents if old.confirmed_cents is not None else old.charged_cents
        await self._store.mark_replacement(
            new.id, replaced_from=old.phone, replaces_left=left, confirmed_cents=ceiling
        )
        handed = old.card_message_id is not None and new.card_message_id == old.card_message_id
        await self._store.mark_replaced(old.id, new.phone, left, card_handed_over=handed)
        await self._store.advance_swap(
            old.id, SwapState.BUYING, SwapState.BOUGHT, new_order_id=new.id
        )
        return Replaced(
            await self._store.get_order(old.id) or old,
            await self._store.get_order(new.id) or new,
            left,
        )

    async def _give_up(self, old: StoredOrder, seen: SwapState) -> GaveUp:
        await self._store.mark_replaced(old.id, "", self.replaces_left(old), card_handed_over=False)
        await self._store.advance_swap(old.id, seen, SwapState.GAVE_UP)
        return GaveUp(await self._store.get_order(old.id) or old)


class _Paused(Exception):
    """The swap cannot go on now; it is resumed from its recorded state later."""


class _Lost(_Paused):
    """Another holder moved the swap on meanwhile (its hold ran out while this one worked)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"swap of {order_id} moved on elsewhere")


class _StillWaiting(_Paused):
    """The cancel's outcome is not known yet (the order still waits): try again later."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} still waiting after the cancel")
