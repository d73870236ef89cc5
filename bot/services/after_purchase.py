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

from bot.api.errors import NoNumbersError
from bot.services.alerts import AlertService, Alternatives, UnknownCountry
from bot.services.browse import ServiceGone
from bot.services.cards import Cards
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


@dataclass(frozen=True, slots=True)
class AfterPurchase:
    """The step after a purchase: the order, and the heads-up when the balance left no
    longer covers its price (None: nothing to say)."""

    order: StoredOrder
    running_low: RunningLow | None


@dataclass(frozen=True, slots=True)
class SoldOut:
    """``NO_NUMBERS`` at buy time: nothing bought. ``found`` is what to offer instead, or
    why nothing can be (then the refusal is shown)."""

    refused: Refused
    found: Alternatives | ServiceGone | UnknownCountry


BuyOutcome = AfterPurchase | AlreadyUsed | Unconfirmed | Refused | SoldOut | PriceRose
"""A purchase's outcome, a bought order already taken through the steps that follow it."""


class AfterPurchaseService:
    """Buys, and takes a new order through the steps that follow its purchase."""

    def __init__(
        self, purchases: PurchaseService, cards: Cards, topup: TopUpService, alerts: AlertService
    ) -> None:
        self._purchases = purchases
        self._cards = cards
        self._topup = topup
        self._alerts = alerts

    async def buy(
        self,
        user_id: int,
        token: str,
        card_message_id: int | None = None,
        *,
        on_claimed: Callable[[], Awaitable[None]] | None = None,
        offer_alternatives: bool = False,
    ) -> BuyOutcome:
        """:meth:`PurchaseService.buy` (same arguments), then :meth:`follow` on a bought order.

        Args:
            offer_alternatives: On ``NO_NUMBERS``, answer :class:`SoldOut` with what to offer
                instead (the chat turns its confirmation into them), not :class:`Refused`.

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the alternatives could not be read.
        """
        result = await self._purchases.buy(user_id, token, card_message_id, on_claimed=on_claimed)
        if isinstance(result, Bought):
            return await self.follow(result.order)
        if (
            isinstance(result, Refused)
            and isinstance(result.error, NoNumbersError)
            and offer_alternatives
        ):
            found = await self._alerts.alternatives_after_refusal(user_id, token)
            return SoldOut(result, found)
        return result

    async def follow(self, order: StoredOrder) -> AfterPurchase:
        """Bring the chat's card up to date (posting it silently if the chat has none yet),
        then decide the heads-up."""
        await self._cards.show_card(order)
        return AfterPurchase(order, await self._topup.after_purchase(order))
