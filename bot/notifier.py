"""The Telegram side of order tracking: push codes, keep cards current, say when it ends.

Every send returns what became of it (:mod:`bot.telegram_outcome`), so the caller can tell
"not delivered" (retry freely) from "maybe delivered" (a retry may repeat it). Rules this
module keeps so Telegram never has to refuse us:

* a card is edited only when its rendered text or buttons changed (a hash of what it last
  showed is stored with the order, so this holds across restarts too), so "message is not
  modified" does not happen;
* a card edit that fails for a passing reason leaves the card *stale* in the database with
  a retry time: the outbox redraws it once, as it is by then, however many changes it
  missed;
* a card whose message is gone (deleted by the user) is sent again as a new message;
* a user who blocked the bot is marked inactive: nothing is sent to them until they write
  again, and the work stays pending instead of failing other users;
* background sends (codes, notices, card redraws from the poller) are never retried inside
  the rate limiter (:data:`bot.ratelimit.BACKGROUND`); their owner reschedules them. Codes
  (:data:`bot.ratelimit.CODE`) also go ahead of everything else waiting for Telegram's pace.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import operator
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Message
from telegram.constants import ParseMode
from telegram.ext import ExtBot

from bot import views
from bot.api import Sms
from bot.i18n import Translator, get_translator
from bot.metrics import Metrics
from bot.ratelimit import BACKGROUND, CODE, SendPolicy
from bot.store import Store, StoredOrder
from bot.telegram_outcome import Outcome, Refused, RetryLater, Sent, Unknown, attempt, describe

log = logging.getLogger(__name__)

CARD_RETRY = timedelta(seconds=10)
"""How long a stale card waits before the outbox redraws it (after a failed edit)."""

CARD_CLAIM = timedelta(minutes=1)
"""The lease of a claimed card edit: past it, any replica's outbox redraws the card.

Longer than an edit can wait for the chat's pace behind a bulk buyer's codes (about one a
second) and Telegram's timeout, so that no other replica edits the card meanwhile (two
replicas sending in one chat at once would meet Telegram's flood limit); a card whose
replica died before recording its edit is redrawn at most this late.
"""


_FINGERPRINTS_KEPT = 100_000
"""Card fingerprints remembered at most (one per watched order; all forgotten past it)."""


NOT_ON_CARD = frozenset(
    {
        "user_id",
        "key_fingerprint",
        "service",
        "card_message_id",
        "card_hash",
        "card_retry_at",
        "final_notified",
        "created_at",
        "updated_at",
        "rate_counted",
    }
)
"""Fields of an order its card does not show (``views.order_card``): drawing a card writes
some of them, and the card need not be rendered again for that."""
_on_card = operator.attrgetter(
    *(f.name for f in dataclasses.fields(StoredOrder) if f.name not in NOT_ON_CARD)
)


def _fingerprint(screen: views.Screen) -> str:
    markup = screen.markup.to_json() if screen.markup else ""
    return hashlib.sha256(f"{screen.text}\0{markup}".encode()).hexdigest()


class TelegramNotifier:
    """Implements :class:`bot.outbox.Notifier` with a PTB ``ExtBot``.

    Args:
        bot: The application's bot (its rate limiter must be a
            :class:`bot.ratelimit.ChatRateLimiter`, which understands ``BACKGROUND``).
        metrics: Codes delivered and their code-to-chat latency.
        clock: Wall clock (UTC) for card retry times.
    """

    def __init__(
        self,
        bot: ExtBot[Any],
        store: Store,
        metrics: Metrics,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        card_retry: timedelta = CARD_RETRY,
    ) -> None:
        self._bot = bot
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._card_retry = card_retry
        self._card_locks: dict[str, asyncio.Lock] = {}
        # order id -> (what its card was rendered from, the fingerprint)
        self._fingerprints: dict[str, tuple[tuple[object, ...], str]] = {}

    def _card_fingerprint(self, t: Translator, order: StoredOrder) -> str:
        """What the card shows, minus its list of codes.

        The codes on the card are those of the first ``sms_seen`` SMS, and ``sms_seen`` is
        on the card itself ("2 SMS received"), so this changes exactly when the full card
        does, and :meth:`card_is_current` can tell without reading the SMS.

        The poller asks this of every watched order every round; the card only changes with
        the order's fields it shows, the language and the countdown's text, so it is rendered
        again only then.
        """
        now = datetime.now(UTC)  # as the card is drawn (not the retry clock)
        left = None if order.is_final else views.countdown(order.expires_at, now)
        inputs = (t, _on_card(order), left)
        known = self._fingerprints.get(order.id)
        if known is not None and known[0] == inputs:
            return known[1]
        fingerprint = _fingerprint(views.order_card(t, order, now))
        if order.is_final:
            self._fingerprints.pop(order.id, None)
        else:
            if len(self._fingerprints) >= _FINGERPRINTS_KEPT:
                self._fingerprints.clear()
            self._fingerprints[order.id] = (inputs, fingerprint)
        return fingerprint

    async def _recipient(self, user_id: int) -> Translator | None:
        """The user's translator, or None when nothing may be sent to them (blocked, unknown).

        One read of the user serves both questions every send asks.
        """
        user = await self._store.get_user(user_id)
        if user is None or not user.chat_active:
            return None
        return get_translator(user.language or "en")

    async def send(
        self,
        user_id: int,
        render: Callable[[Translator], views.Screen],
        *,
        notify: bool = True,
        policy: SendPolicy | None = BACKGROUND,
    ) -> Outcome[tuple[Message, views.Screen]] | None:
        """Send what ``render`` draws in the user's language.

        Returns:
            None if the user cannot be reached now (blocked the bot: also learnt here from
            a 403), else what became of the send.
        """
        t = await self._recipient(user_id)
        if t is None:
            return None
        return await self._send_screen(user_id, render(t), notify=notify, policy=policy)

    async def _send_screen(
        self, user_id: int, screen: views.Screen, *, notify: bool, policy: SendPolicy | None
    ) -> Outcome[tuple[Message, views.Screen]] | None:
        """:meth:`send` once the recipient is known to be reachable and ``screen`` drawn."""
        outcome = await attempt(
            self._bot.send_message(
                user_id,
                screen.text,
                parse_mode=ParseMode.HTML,
                reply_markup=screen.markup,
                disable_notification=not notify,
                rate_limit_args=policy,
            )
        )
        if isinstance(outcome, Sent):
            return Sent((outcome.value, screen))
        await self._failed(user_id, outcome, "sending")
        return None if isinstance(outcome, Refused) and outcome.blocked else outcome

    async def _failed(
        self, user_id: int, outcome: Refused | RetryLater | Unknown, what: str
    ) -> None:
        if isinstance(outcome, Refused) and outcome.blocked:
            log.info("user %s blocked the bot; marking the chat inactive", user_id)
            await self._store.set_chat_active(user_id, False)
        elif isinstance(outcome, RetryLater):
            log.info("%s to user %s: flood control, %s", what, user_id, outcome.delay)
        else:
            log.warning(
                "%s to user %s failed (%s): %s",
                what,
                user_id,
                type(outcome).__name__,
                describe(outcome.error),
            )

    async def tell(
        self, user_id: int, render: Callable[[Translator], views.Screen], *, notify: bool = True
    ) -> bool:
        """Send once, retrying 429s in the limiter; whether Telegram took it."""
        outcome = await self.send(user_id, render, notify=notify, policy=None)
        return isinstance(outcome, Sent)

    async def push_code(self, order: StoredOrder, sms: Sms) -> Outcome[int] | None:
        outcome = await self.send(
            order.user_id, lambda t: views.code_message(t, order, sms), policy=CODE
        )
        if not isinstance(outcome, Sent):
            return outcome
        self._metrics.codes_delivered.inc()
        if sms.received_at is not None:
            delay = (self._clock() - sms.received_at).total_seconds()
            self._metrics.code_latency.observe(max(0.0, delay))
        return Sent(outcome.value[0].message_id)

    async def tell_final(self, order: StoredOrder) -> Outcome[int] | None:
        outcome = await self.send(order.user_id, lambda t: views.order_ended(t, order))
        return Sent(outcome.value[0].message_id) if isinstance(outcome, Sent) else outcome

    async def tell_key_revoked(self, user_id: int) -> bool:
        return await self.tell(user_id, views.key_revoked)

    async def tell_not_bought(self, user_id: int) -> bool:
        return await self.tell(user_id, views.purchase_not_made)

    async def _render_card(self, t: Translator, order: StoredOrder) -> views.Screen:
        sms = [d.body for d in await self._store.deliveries_for(order.id)][: order.sms_seen]
        return views.order_card(t, order, sms=sms)

    async def post_card(self, order: StoredOrder) -> int | None:
        """Send the card as a new message and make it the one kept current."""
        t = await self._recipient(order.user_id)
        if t is None:
            return None
        screen = await self._render_card(t, order)
        # Not send(): the user's row was read just above.
        outcome = await self._send_screen(order.user_id, screen, notify=False, policy=None)
        if not isinstance(outcome, Sent):
            return None
        message_id = outcome.value[0].message_id
        await self._store.set_card_message(order.id, message_id, self._card_fingerprint(t, order))
        return message_id

    def card_is_current(self, order: StoredOrder, language: str | None) -> bool:
        """Whether the card needs no redraw now; no I/O.

        True when the card on screen already shows ``order`` as it renders now, and also
        while a stale card waits for its retry, or while an edit claimed for it is under
        way (the outbox redraws it when due). Lets the poller skip the locked re-read and
        redraw of the many cards that did not change in a tick (only the countdown moves
        them, every few minutes), and keeps it from retrying a failed edit every tick while
        Telegram is down.
        """
        if order.card_retry_at is not None:
            return order.card_retry_at > self._clock()
        if order.card_message_id is None or order.card_hash is None:
            return False
        return order.card_hash == self._card_fingerprint(get_translator(language or "en"), order)

    async def show_card(self, order: StoredOrder, *, now: bool = False) -> None:
        """Bring the card up to date, unless it is stale and waits for its retry.

        Args:
            now: Redraw even a card waiting for its retry (the user pressed one of its
                buttons, so Telegram is answering them). Otherwise such a card is left to
                the outbox: redrawing it at every poll while Telegram fails would cost a
                request (or, when Telegram stalls, a timeout) per tick.
        """
        # The poller and a button press may redraw the same card at once; the second must
        # see what the first showed, or Telegram answers "message is not modified".
        lock = self._card_locks.setdefault(order.id, asyncio.Lock())
        async with lock:
            current = await self._store.get_order(order.id) or order
            waiting = current.card_retry_at is not None and current.card_retry_at > self._clock()
            if now or not waiting:
                await self._show_card(current)
        if not lock.locked() and order.is_final:
            self._card_locks.pop(order.id, None)

    async def _show_card(self, order: StoredOrder) -> None:
        if order.card_message_id is None:
            if not order.replaced_by:  # a replaced order handed its card to its replacement
                await self.post_card(order)
            return
        t = await self._recipient(order.user_id)
        if t is None:
            return
        fingerprint = self._card_fingerprint(t, order)
        if order.card_hash == fingerprint and order.card_retry_at is None:
            return
        # A card due for a retry is edited even if its hash matches: the claim of a
        # replica that died before recording its edit (or an edit that did happen before
        # its failure was recorded, which Telegram then refuses as unchanged).
        until = self._clock() + CARD_CLAIM
        if not await self._store.claim_card_hash(order, fingerprint, until):
            return  # another replica is drawing (or drew) this very change
        screen = await self._render_card(t, order)
        outcome = await attempt(
            self._bot.edit_message_text(
                screen.text,
                chat_id=order.user_id,
                message_id=order.card_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=screen.markup,
                rate_limit_args=BACKGROUND,
            )
        )
        if isinstance(outcome, Sent):
            await self._store.set_card_hash(order.id, fingerprint)
        elif isinstance(outcome, Refused) and outcome.answered and not outcome.blocked:
            if "not modified" in outcome.description:  # drawn just before a crash
                await self._store.set_card_hash(order.id, fingerprint)
            elif "not found" in outcome.description:
                await self.post_card(order)
            else:
                await self._store.restore_card_hash(order, fingerprint, until, None)
                log.warning("editing card of order %s refused: %s", order.id, outcome.description)
        else:
            await self._failed(order.user_id, outcome, f"card of order {order.id}")
            retry_at = None
            if not (isinstance(outcome, Refused) and outcome.blocked):
                delay = outcome.delay if isinstance(outcome, RetryLater) else self._card_retry
                retry_at = self._clock() + delay
            await self._store.restore_card_hash(order, fingerprint, until, retry_at)
