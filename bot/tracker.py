"""Applying what the API says about an order: the recorder in front of the outbox.

Both the poller and the order buttons (Refresh, Cancel, Another SMS) hand fresh
:class:`~bot.api.Order` reads to :meth:`OrderTracker.observe` / :meth:`OrderTracker.apply`,
which only *record*: each new SMS becomes a row of ``sms_deliveries`` (keyed by order id and
position, so a second record of the same SMS does nothing), and an order that ended becomes
a final notice due on its order row. The first SMS (or an end without one) also counts
the order, once, in its country's delivery rate. Nothing is sent from here: the
:class:`~bot.outbox.Outbox` is kicked and sends what is due, per chat.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.api import Order
from bot.order_status import OrderStatus
from bot.outbox import Notifier, Outbox
from bot.services.rates import DeliveryRates
from bot.store import Store, StoredOrder

__all__ = ["OrderTracker"]


def _first_sms_after(stored: StoredOrder, order: Order) -> timedelta | None:
    """The wait from the order's creation to its first SMS (None: it ended without one),
    by the API's clock when it says both times, else by when the bot recorded the SMS."""
    if not order.sms_history:
        return None
    received = order.sms_history[0].received_at
    if received is not None and order.created_at is not None:
        return received - order.created_at
    return stored.updated_at - stored.created_at


class OrderTracker:
    """Moves stored orders forward from API reads and kicks the outbox; see the module docs.

    Args:
        notifier: Brings an order's card up to date after a button press.
        outbox: Sends the codes and final notices recorded here.
        rates: Counts each order in its country's delivery rate.
    """

    def __init__(
        self, store: Store, notifier: Notifier, outbox: Outbox, *, rates: DeliveryRates
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._outbox = outbox
        self._rates = rates
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, order_id: str) -> asyncio.Lock:
        return self._locks.setdefault(order_id, asyncio.Lock())

    async def observe(
        self, stored: StoredOrder, order: Order, *, user_ended: bool = False
    ) -> StoredOrder:
        """Apply one read of the order and bring its card up to date (at once, even if a
        failed edit left it waiting: this is a button press, the user is looking at it).

        Args:
            stored: The order as the database had it (only ``id`` matters; it is re-read).
            order: A fresh read from the API.
            user_ended: The user just cancelled it themselves: no "it expired" message.
        """
        updated = await self.apply(stored, order, user_ended=user_ended)
        await self._notifier.show_card(updated, now=True)
        return updated

    async def apply(
        self, stored: StoredOrder, order: Order, *, user_ended: bool = False
    ) -> StoredOrder:
        """Like :meth:`observe` but leaves the card alone (the poller redraws cards after
        every order of a user is applied). New SMS and a final notice go to the outbox,
        which starts sending them at once."""
        async with self._lock(stored.id):
            current = await self._store.get_order(stored.id) or stored
            if (
                current.status == order.status
                and (order.expires_at is None or current.expires_at == order.expires_at)
                and current.sms_seen >= len(order.sms_history)
                and (not current.is_final or (current.final_notified and current.rate_counted))
            ):
                # Most reads of a watched order, and every look at a finished one that was
                # announced and counted, show nothing new: the statements below would change
                # no row (four per read on every tick, and per tap on an old order's card).
                if current.is_final:
                    self._locks.pop(current.id, None)
                return current
            await self._store.set_order_status(
                current.id, order.status, expires_at=order.expires_at
            )
            new = False
            for position in range(current.sms_seen, len(order.sms_history)):
                sms = order.sms_history[position]
                new |= await self._store.claim_delivery(
                    current.id, position, sms.body, sms.received_at
                )
            await self._store.set_sms_seen(current.id, len(order.sms_history))
            updated = await self._store.get_order(current.id) or current
            if not updated.rate_counted and (order.sms_history or updated.is_final):
                await self._rates.count(updated, _first_sms_after(updated, order))
            announce = not user_ended and updated.status != OrderStatus.COMPLETED
            if updated.is_final and not updated.final_notified and announce:
                # Cancelled by an automatic replacement (seen here first, by a poll racing
                # the swap): the swap tells the user, not an "it expired" notice.
                announce = await self._store.get_swap(updated.id) is None
            if updated.is_final and not updated.final_notified and not announce:
                await self._store.mark_final_notified(updated.id)
            if new or (updated.is_final and not updated.final_notified):
                self._outbox.kick(updated.user_id)
            if updated.is_final:
                self._locks.pop(updated.id, None)
            return await self._store.get_order(current.id) or updated

    async def finish_pending(self, order: StoredOrder) -> None:
        """An order that ended is still to be announced (the user was unreachable)."""
        if order.is_final and not order.final_notified:
            self._outbox.kick(order.user_id)
