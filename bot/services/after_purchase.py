"""What follows a purchase, the same in both front ends.

The chat's order card is brought up (the chat's confirmation becomes the card; after a Mini
App purchase the card is posted as a new message, silently, so that when the SMS comes the
code is the one new message that notifies), and the top-up heads-up is decided (see
:mod:`bot.services.topup`). Both front ends buy through :meth:`AfterPurchaseService.buy`, one
call that makes the purchase and takes a new order through these steps, and render the
resulting :class:`AfterPurchase` (or the purchase's other outcomes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.services.purchases import (
    AlreadyUsed,
    Bought,
    PriceRose,
    PurchaseService,
    Refused,
    Unconfirmed,
)
from bot.services.topup import RunningLow, TopUpService
from bot.store import StoredOrder


class Cards(Protocol):
    """The chat side's order cards (:class:`bot.notifier.TelegramNotifier`)."""

    async def show_card(self, order: StoredOrder, *, now: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class AfterPurchase:
    """The step after a purchase: the order, and the heads-up when the balance left no
    longer covers its price (None: nothing to say)."""

    order: StoredOrder
    running_low: RunningLow | None


BuyOutcome = AfterPurchase | AlreadyUsed | Unconfirmed | Refused | PriceRose
"""A purchase's outcome, a bought order already taken through the steps that follow it."""


class AfterPurchaseService:
    """Buys, and takes a new order through the steps that follow its purchase."""

    def __init__(self, purchases: PurchaseService, cards: Cards, topup: TopUpService) -> None:
        self._purchases = purchases
        self._cards = cards
        self._topup = topup

    async def buy(
        self,
        user_id: int,
        token: str,
        card_message_id: int | None = None,
        *,
        on_claimed: Callable[[], Awaitable[None]] | None = None,
    ) -> BuyOutcome:
        """:meth:`PurchaseService.buy` (same arguments), then :meth:`follow` on a bought order.

        Raises:
            NotLinkedError: no key linked.
        """
        result = await self._purchases.buy(user_id, token, card_message_id, on_claimed=on_claimed)
        if isinstance(result, Bought):
            return await self.follow(result.order)
        return result

    async def follow(self, order: StoredOrder) -> AfterPurchase:
        """Bring the chat's card up to date (posting it silently if the chat has none yet),
        then decide the heads-up."""
        await self._cards.show_card(order)
        return AfterPurchase(order, await self._topup.after_purchase(order))
