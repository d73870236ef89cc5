"""Actions on an existing order: view, refresh, cancel, another SMS, history.

Every action first loads the order from the database *for the person asking* (ownership is
part of the query), so a forged or forwarded button can never act on someone else's order.
What the API answers is applied by the tracker, which leaves codes to the outbox, the one
place where they are delivered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.api import JiemaClient, Order, OrderPage
from bot.api.errors import JiemaError, NotFoundError
from bot.order_status import OrderStatus
from bot.services.accounts import AccountService, NotLinkedError
from bot.services.cards import Cards
from bot.services.catalog import Catalog
from bot.store import Delivery, Store, StoredOrder, User
from bot.tracker import OrderTracker


def can_cancel(status: str, sms_seen: int) -> bool:
    """A refund is still possible: the number waits and no SMS came yet."""
    return status == OrderStatus.WAITING and sms_seen == 0


def can_next_sms(status: str) -> bool:
    """Another SMS can be asked for on the same number (one has arrived)."""
    return status == OrderStatus.RECEIVED


def refunded_cents(status: str, charged_cents: int) -> int | None:
    """What went back to the balance: the price of a cancelled order, else None."""
    return charged_cents if status == OrderStatus.CANCELLED else None


class Action(StrEnum):
    """What the user asks of an order."""

    VIEW = "view"
    CANCEL = "cancel"
    NEXT_SMS = "next_sms"


@dataclass(frozen=True, slots=True)
class Acted:
    """The action went through; ``order`` is the order as it is now (card updated)."""

    order: StoredOrder
    action: Action
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class NotYours:
    """No such order for this user (unknown id, or someone else's)."""


@dataclass(frozen=True, slots=True)
class ActionRefused:
    """The API refused (``CODE_RECEIVED``, ``ALREADY_CHANGED``, …) or failed.

    ``order`` is the order re-read after the refusal when that worked (its card may have
    been stale: an SMS arrived, say), else None.
    """

    error: JiemaError
    order: StoredOrder | None


ActOutcome = Acted | NotYours | ActionRefused


@dataclass(frozen=True, slots=True)
class History:
    """One page of the user's orders as the API lists them, with service names."""

    orders: list[Order]
    names: dict[str, str]
    next_cursor: str | None


class OrderService:
    """Use cases over the API; reads are applied (and cards redrawn) by the tracker."""

    def __init__(
        self,
        api: JiemaClient,
        store: Store,
        accounts: AccountService,
        catalog: Catalog,
        tracker: OrderTracker,
        cards: Cards,
    ) -> None:
        self._api = api
        self._store = store
        self._accounts = accounts
        self._catalog = catalog
        self._tracker = tracker
        self._cards = cards

    async def get(self, user_id: int, order_id: str) -> StoredOrder | None:
        """The user's order from the database, or None when it is not theirs."""
        return await self._store.get_user_order(user_id, order_id)

    async def deliveries(self, order_id: str) -> list[Delivery]:
        """Every SMS the tracker recorded for the order, in order of arrival."""
        return await self._store.deliveries_for(order_id)

    async def act(
        self, user_id: int, order_id: str, action: Action, *, user: User | None = None
    ) -> ActOutcome:
        """Do ``action`` on the user's order and apply the API's fresh view of it.

        Viewing an order the bot does not track (from the history: bought on the website)
        adopts it when the API says it belongs to this user's key.

        Args:
            user: The user's row as the caller has just read it (saves reading it again).

        Raises:
            NotLinkedError: no key linked.
        """
        stored = await self.get(user_id, order_id)
        if stored is None:
            if action is not Action.VIEW:
                return NotYours()
            return await self._adopt(user_id, order_id)
        key = await self._accounts.key_for(user_id, user=user)
        if action is Action.CANCEL:
            # A replacement under way, refund not yet confirmed, must not buy after this.
            await self._store.abandon_swap(order_id)
        try:
            if action is Action.CANCEL:
                await self._api.cancel_order(key, order_id)
                self._accounts.forget_balance(key)  # refunded
            elif action is Action.NEXT_SMS:
                await self._api.next_sms(key, order_id)
            fresh = await self._api.order(key, order_id)
        except JiemaError as exc:
            if action is Action.VIEW:
                return ActionRefused(exc, None)
            return ActionRefused(exc, await self._refresh_quietly(user_id, stored))
        updated = await self._tracker.observe(stored, fresh, user_ended=action is Action.CANCEL)
        return Acted(updated, action)

    async def act_in_chat(
        self,
        user_id: int,
        order_id: str,
        action: Action,
        pressed_message_id: int | None,
        *,
        on_acted: Callable[[Acted], Awaitable[None]] | None = None,
        user: User | None = None,
    ) -> ActOutcome:
        """A chat button (on an order card, or an order opened from the history): :meth:`act`,
        then the card is posted as a new message where the user is when the order was just
        adopted or the button was not on its card.

        Args:
            pressed_message_id: The message whose button was pressed (None: not known).
            on_acted: Awaited once the action went through, before the card is posted: the
                chat stops the button's spinner with its note.
            user: The user's row as the caller has just read it (saves reading it again).

        Raises:
            NotLinkedError: no key linked.
        """
        outcome = await self.act(user_id, order_id, action, user=user)
        if not isinstance(outcome, Acted):
            return outcome
        if on_acted is not None:
            await on_acted(outcome)
        order = outcome.order
        on_card = pressed_message_id is not None and pressed_message_id == order.card_message_id
        if outcome.adopted or not on_card:
            await self._cards.post_card(order)
        return outcome

    async def _refresh_quietly(self, user_id: int, stored: StoredOrder) -> StoredOrder | None:
        """After a refused action the card may be stale (e.g. an SMS arrived): redraw it."""
        try:
            fresh = await self._api.order(await self._accounts.key_for(user_id), stored.id)
        except (JiemaError, NotLinkedError):
            return None
        return await self._tracker.observe(stored, fresh)

    async def history(
        self, user_id: int, cursor: str | None, limit: int = 5, *, user: User | None = None
    ) -> History:
        """One page of the user's orders as the API lists them.

        Args:
            user: The user's row as the caller has just read it (saves reading it again).

        Raises:
            NotLinkedError: no key linked.
            bot.api.errors.JiemaError: the API failed.
        """
        key = await self._accounts.key_for(user_id, user=user)
        page: OrderPage = await self._api.orders(key, limit=limit, cursor=cursor)
        names = {s.code: s.name for s in await self._catalog.services(key)}
        return History(list(page.items), names, page.next_cursor)

    async def _adopt(self, user_id: int, order_id: str) -> ActOutcome:
        """Start tracking an order the bot did not make; the API decides ownership (404)."""
        key = await self._accounts.key_for(user_id)
        try:
            order = await self._api.order(key, order_id)
            service = await self._catalog.service(key, order.service or "")
            countries = await self._catalog.countries(key)
        except NotFoundError:
            return NotYours()
        except JiemaError as exc:
            return ActionRefused(exc, None)
        country_id = order.country or ""
        country = countries.get(int(country_id)) if country_id.isdigit() else None
        stored = StoredOrder(
            id=order.id,
            user_id=user_id,
            key_fingerprint=self._accounts.fingerprint(key),
            service=order.service or "",
            service_name=service.name if service else order.service or "?",
            country_id=country_id,
            country_slug=country.slug if country else "",
            phone=order.phone or "",
            status=order.status,
            expires_at=order.expires_at,
            charged_cents=order.charged_cents or 0,
            final_notified=order.is_final,
        )
        if not await self._store.save_order(stored):
            return NotYours()  # tracked for another user
        adopted = await self.get(user_id, order.id)
        return Acted(adopted or stored, Action.VIEW, adopted=True)
