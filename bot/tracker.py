"""Applying what the API says about an order: status, new SMS, the card, the final word.

Both the poller and the order buttons (Refresh, Cancel, Another SMS) hand fresh
:class:`~bot.api.Order` reads to :meth:`OrderTracker.observe`; this is the one place where
SMS delivery happens, so "exactly once" has a single implementation:

1. the SMS at position *p* of ``smsHistory`` is *claimed* in SQLite (a row keyed by order id
   and position; a second claim of the same position fails);
2. it is sent to the chat;
3. the row is marked sent.

A crash between 1 and 3 leaves a *pending* row, which :meth:`OrderTracker.resend_pending`
sends at the next start (the only case of a possible duplicate is a crash in the instant
after Telegram accepted the message and before the row was marked). A crash before 1 loses
nothing: ``sms_seen`` has not moved, so the next read sees the SMS as new again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Protocol

from bot.api import Order, Sms
from bot.store import Delivery, Store, StoredOrder

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """What the tracker needs from the chat side (implemented with Telegram in notifier.py).

    Each method returns False when the user cannot be reached now (blocked the bot), so the
    work stays pending instead of being marked done.
    """

    async def push_code(self, order: StoredOrder, sms: Sms) -> int | None:
        """Send a new message with the SMS; its message id, or None if not delivered."""
        ...

    async def show_card(self, order: StoredOrder) -> None:
        """Bring the order card up to date (no-op when nothing visible changed)."""
        ...

    async def tell_final(self, order: StoredOrder) -> bool:
        """Tell the user an order ended on its own (expiry); False if not delivered."""
        ...


class OrderTracker:
    """Moves stored orders forward from API reads; see the module docstring."""

    def __init__(self, store: Store, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, order_id: str) -> asyncio.Lock:
        return self._locks.setdefault(order_id, asyncio.Lock())

    async def observe(
        self, stored: StoredOrder, order: Order, *, user_ended: bool = False
    ) -> StoredOrder:
        """Apply one read of the order and bring its card up to date.

        Args:
            stored: The order as SQLite had it (only ``id`` matters; it is re-read).
            order: A fresh read from the API.
            user_ended: The user just cancelled it themselves: no "it expired" message.
        """
        updated = await self.apply(stored, order, user_ended=user_ended)
        await self._notifier.show_card(updated)
        return updated

    async def apply(
        self, stored: StoredOrder, order: Order, *, user_ended: bool = False
    ) -> StoredOrder:
        """Like :meth:`observe` but leaves the card alone (the poller redraws cards after
        pushing every code, so codes never wait behind card edits)."""
        async with self._lock(stored.id):
            current = await self._store.get_order(stored.id) or stored
            await self._store.set_order_status(
                current.id, order.status, expires_at=order.expires_at
            )
            for position in range(current.sms_seen, len(order.sms_history)):
                sms = order.sms_history[position]
                if await self._store.claim_delivery(
                    current.id, position, sms.body, sms.received_at
                ):
                    await self._send(current, position, sms)
            await self._store.set_sms_seen(current.id, len(order.sms_history))
            updated = await self._store.get_order(current.id) or current
            if updated.is_final and not updated.final_notified:
                await self._finish(updated, announce=not user_ended)
            if updated.is_final:
                self._locks.pop(updated.id, None)
            return await self._store.get_order(current.id) or updated

    async def finish_pending(self, order: StoredOrder) -> None:
        """Retry telling the user about an order that ended while they were unreachable."""
        async with self._lock(order.id):
            current = await self._store.get_order(order.id)
            if current is not None and current.is_final and not current.final_notified:
                await self._finish(current, announce=True)

    async def _finish(self, order: StoredOrder, *, announce: bool) -> None:
        if announce and order.status != "COMPLETED" and not await self._notifier.tell_final(order):
            return
        await self._store.mark_final_notified(order.id)

    async def _send(self, order: StoredOrder, position: int, sms: Sms) -> None:
        message_id = await self._notifier.push_code(order, sms)
        if message_id is not None:
            await self._store.mark_delivered(order.id, position, message_id)

    async def resend_pending(self, users: Collection[int]) -> None:
        """Send SMS claimed but never marked sent (crash, blocked chat, Telegram outage), for
        the orders of ``users`` (those whose key this replica polls)."""
        for delivery in await self._store.pending_deliveries():
            order = await self._store.get_order(delivery.order_id)
            if order is None or order.user_id not in users:
                continue
            async with self._lock(order.id):
                await self._resend(order, delivery)

    async def _resend(self, order: StoredOrder, delivery: Delivery) -> None:
        still_pending = any(
            d.position == delivery.position and d.state == "pending"
            for d in await self._store.deliveries_for(order.id)
        )
        if still_pending:
            await self._send(order, delivery.position, Sms(delivery.body, delivery.received_at))
