"""The Telegram side of order tracking: push codes, keep cards current, say when it ends.

Rules this module keeps so Telegram never has to refuse us:

* a card is edited only when its rendered text or buttons changed (a hash of what it last
  showed is stored with the order, so this holds across restarts too), so "message is not
  modified" does not happen;
* a card whose message is gone (deleted by the user) is sent again as a new message;
* a user who blocked the bot is marked inactive: nothing is sent to them until they write
  again, and the work stays pending instead of failing other users;
* flood control is handled by PTB's ``AIORateLimiter`` (retries after ``retry_after``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import views
from bot.api import Sms
from bot.i18n import Translator, get_translator
from bot.metrics import Metrics
from bot.store import Store, StoredOrder

log = logging.getLogger(__name__)


def _fingerprint(screen: views.Screen) -> str:
    markup = screen.markup.to_json() if screen.markup else ""
    return hashlib.sha256(f"{screen.text}\0{markup}".encode()).hexdigest()


class TelegramNotifier:
    """Implements :class:`bot.tracker.Notifier` with a PTB ``Bot``."""

    def __init__(self, bot: Bot, store: Store, metrics: Metrics) -> None:
        self._bot = bot
        self._store = store
        self._metrics = metrics
        self._card_locks: dict[str, asyncio.Lock] = {}

    async def _recipient(self, user_id: int) -> Translator | None:
        """The user's translator, or None when nothing may be sent to them (blocked, unknown).

        One read of the user serves both questions every send asks.
        """
        user = await self._store.get_user(user_id)
        if user is None or not user.chat_active:
            return None
        return get_translator(user.language or "en")

    async def tell(
        self,
        user_id: int,
        render: Callable[[Translator], views.Screen],
        *,
        notify: bool = True,
    ) -> tuple[int, views.Screen] | None:
        """Send what ``render`` draws in the user's language; message id and screen, or None
        if the user cannot be reached now."""
        t = await self._recipient(user_id)
        if t is None:
            return None
        screen = render(t)
        try:
            message = await self._bot.send_message(
                user_id,
                screen.text,
                parse_mode=ParseMode.HTML,
                reply_markup=screen.markup,
                disable_notification=not notify,
            )
        except Forbidden as exc:
            self._metrics.telegram_calls.labels("sendMessage", type(exc).__name__).inc()
            log.info("user %s blocked the bot; marking the chat inactive", user_id)
            await self._store.set_chat_active(user_id, False)
            return None
        except TelegramError as exc:
            self._metrics.telegram_calls.labels("sendMessage", type(exc).__name__).inc()
            log.warning("sending to user %s failed: %s", user_id, exc)
            return None
        return message.message_id, screen

    async def push_code(self, order: StoredOrder, sms: Sms) -> int | None:
        sent = await self.tell(order.user_id, lambda t: views.code_message(t, order, sms))
        if sent is None:
            return None
        self._metrics.codes_delivered.inc()
        if sms.received_at is not None:
            delay = (datetime.now(UTC) - sms.received_at).total_seconds()
            self._metrics.code_latency.observe(max(0.0, delay))
        return sent[0]

    async def tell_final(self, order: StoredOrder) -> bool:
        return await self.tell(order.user_id, lambda t: views.order_ended(t, order)) is not None

    async def tell_key_revoked(self, user_id: int) -> bool:
        return await self.tell(user_id, views.key_revoked) is not None

    async def tell_not_bought(self, user_id: int) -> bool:
        return await self.tell(user_id, views.purchase_not_made) is not None

    async def post_card(self, order: StoredOrder) -> int | None:
        """Send the card as a new message and make it the one kept current."""
        sent = await self.tell(order.user_id, lambda t: views.order_card(t, order), notify=False)
        if sent is None:
            return None
        message_id, screen = sent
        await self._store.set_card_message(order.id, message_id, _fingerprint(screen))
        return message_id

    def card_is_current(self, order: StoredOrder, language: str | None) -> bool:
        """Whether the card on screen already shows ``order`` as it renders now; no I/O.

        Lets the poller skip the locked re-read and redraw of the many cards that did not
        change in a tick (only the countdown moves them, every few minutes).
        """
        if order.card_message_id is None or order.card_hash is None:
            return False
        screen = views.order_card(get_translator(language or "en"), order)
        return order.card_hash == _fingerprint(screen)

    async def show_card(self, order: StoredOrder) -> None:
        # The poller and a button press may redraw the same card at once; the second must
        # see what the first showed, or Telegram answers "message is not modified".
        lock = self._card_locks.setdefault(order.id, asyncio.Lock())
        async with lock:
            await self._show_card(await self._store.get_order(order.id) or order)
        if not lock.locked() and order.is_final:
            self._card_locks.pop(order.id, None)

    async def _show_card(self, order: StoredOrder) -> None:
        if order.card_message_id is None:
            await self.post_card(order)
            return
        t = await self._recipient(order.user_id)
        if t is None:
            return
        screen = views.order_card(t, order)
        fingerprint = _fingerprint(screen)
        if order.card_hash == fingerprint:
            return
        try:
            await self._bot.edit_message_text(
                screen.text,
                chat_id=order.user_id,
                message_id=order.card_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=screen.markup,
            )
        except BadRequest as exc:
            if "not modified" in exc.message:  # drawn just before a crash, not recorded
                await self._store.set_card_hash(order.id, fingerprint)
            elif "not found" in exc.message:
                await self.post_card(order)
            else:
                log.warning("editing card of order %s failed: %s", order.id, exc)
            return
        except Forbidden:
            await self._store.set_chat_active(order.user_id, False)
            return
        except TelegramError as exc:
            self._metrics.telegram_calls.labels("editMessageText", type(exc).__name__).inc()
            log.warning("editing card of order %s failed: %s", order.id, exc)
            return
        await self._store.set_card_hash(order.id, fingerprint)
