"""What follows a purchase, the same in both front ends.

The chat's order card is brought up (the chat's confirmation becomes the card; after a Mini
App purchase the card is posted as a new message, silently, so that when the SMS comes the
code is the one new message that notifies), and the top-up heads-up is decided (see
:mod:`bot.services.topup`). Both front ends render the resulting :class:`AfterPurchase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class AfterPurchaseService:
    """Takes a new order through the steps that follow its purchase."""

    def __init__(self, cards: Cards, topup: TopUpService) -> None:
        self._cards = cards
        self._topup = topup

    async def follow(self, order: StoredOrder) -> AfterPurchase:
        """Bring the chat's card up to date (posting it silently if the chat has none yet),
        then decide the heads-up."""
        await self._cards.show_card(order)
        return AfterPurchase(order, await self._topup.after_purchase(order))
