"""The chat's confirmation: a quote, or what to offer instead when its offer is gone.

One call per tap for the chat (a country picked, "Buy again" on a card): the quote of
:meth:`bot.services.purchases.PurchaseService.quote`, or, when the country has no stock,
the alternatives of :meth:`bot.services.alerts.AlertService.alternatives`. (The Mini App
asks for the two separately: its page shows the alternatives on a screen of their own.)
"""

from __future__ import annotations

from bot.services.alerts import AlertService, Alternatives, UnknownCountry
from bot.services.browse import ServiceGone
from bot.services.orders import NotYours
from bot.services.purchases import OfferGone, PurchaseService, Quote
from bot.store import Store

QuoteOutcome = Quote | Alternatives | ServiceGone | UnknownCountry
"""A confirmation to show, the alternatives to a sold-out country, or why neither (the
service, or the country, is not known)."""


class QuoteService:
    """Confirmations for the chat, with the sold-out branch decided here."""

    def __init__(self, purchases: PurchaseService, alerts: AlertService, store: Store) -> None:
        self._purchases = purchases
        self._alerts = alerts
        self._store = store

    async def quote(self, user_id: int, service: str, country_id: int) -> QuoteOutcome:
        """The confirmation for (service, country), or the alternatives when it is sold out.

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the API failed.
        """
        quote = await self._purchases.quote(user_id, service, country_id)
        if isinstance(quote, OfferGone):
            return await self._alerts.alternatives(user_id, service, country_id)
        return quote

    async def quote_again(self, user_id: int, order_id: str) -> QuoteOutcome | NotYours:
        """ "Buy again" on an order card: :meth:`quote` for the order's service and country
        (:class:`NotYours` for someone else's order, or one without a known country).

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the API failed.
        """
        order = await self._store.get_user_order(user_id, order_id)
        if order is None or not order.country_id.isdigit():
            return NotYours()
        return await self.quote(user_id, order.service, int(order.country_id))
