"""The fleet-wide sender of announcements: one replica at a time (lease ``job:broadcast``).

Each recipient row is **claimed in the database before its send** and settled right after
(``sent``, ``blocked``, ``failed``, or handed back as ``pending`` after a 429, when Telegram
delivered nothing). So a restart, or another replica taking the lease over, continues with
the rows still pending: nobody is skipped and nobody is sent to twice.

The one ambiguous moment is a process dying between claiming a row and recording its
outcome: the request may or may not have reached Telegram, and the Bot API cannot be asked.
Such a claim (older than the lease TTL, so its sender is gone) becomes ``unknown`` and is
**not** sent again: announcements are *at most once*. A duplicate announcement is the
failure every recipient sees, while a crash strands at most the one send in flight (sends
are sequential); the operator's report counts these rows among the failed and says so.
(Codes choose differently: a doubtful code is sent once more, as a missing code costs the
user their purchase.)

Codes come first: the sender pauses while any code is due or being sent (see
:meth:`bot.store.Store.count_codes_due`), and sends at most ``rate`` messages a second (20
by default, under the bot's overall 27/s limit, which leaves room for codes and cards even
while it runs).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final

from telegram.constants import ParseMode
from telegram.ext import ExtBot

from bot import views
from bot.i18n import Translator, get_translator
from bot.jobs import LeasedJob
from bot.ratelimit import BACKGROUND
from bot.store import Store
from bot.store.console import Broadcast, BroadcastState, RecipientState
from bot.telegram_outcome import Refused, RetryLater, Sent, Unknown, attempt, describe

__all__ = ["BROADCAST_LEASE", "DEFAULT_RATE", "Broadcaster"]

log = logging.getLogger(__name__)

BROADCAST_LEASE: Final = "job:broadcast"
DEFAULT_RATE: Final = 20.0
"""Announcements per second at most."""
_CODE_WAIT: Final = 0.2  # seconds between two looks at pending codes while yielding to them


class Broadcaster(LeasedJob):
    """Sends the running broadcasts' pending recipients, paced, behind codes.

    Args:
        bot: Sends the announcements and edits the operator's progress message.
        store: The fleet's database (recipients, leases, pending codes).
        replica_id: This process's name as lease holder and claimer.
        lease_ttl: How long the lease (and a claim) outlives a sender that stopped.
        rate: Announcements per second at most.
        progress_every: Seconds between two edits of the progress message.
        idle: Seconds between two looks for work when there is none.
        clock: Monotonic seconds (pace, throttling, lease renewal).
        sleep: Awaitable sleep.
    """

    def __init__(
        self,
        bot: ExtBot[Any],
        store: Store,
        *,
        replica_id: str,
        lease_ttl: timedelta,
        rate: float = DEFAULT_RATE,
        progress_every: float = 2.0,
        idle: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            store,
            name="broadcast",
            lease=BROADCAST_LEASE,
            replica_id=replica_id,
            lease_ttl=lease_ttl,
            interval=idle,
            sleep=sleep,
        )
        self._bot = bot
        self._gap = 1.0 / rate
        self._progress_every = progress_every
        self._clock = clock
        self._next_send = 0.0
        self._next_progress: dict[str, float] = {}
        self._shown: dict[str, str] = {}

    async def work(self) -> bool:
        """Hold the lease and work for up to a third of its TTL.

        With nothing to do this is two reads (no lease is taken), so idle replicas cost the
        database nothing but those.

        Returns:
            True if there may be more to do right away.
        """
        store = self._store
        running = await store.broadcasts_in_state(BroadcastState.SENDING)
        if not running and not await store.unreported_broadcasts():
            return False
        if not await self.hold_lease():
            return False
        await self._report_finished()
        if not running:
            return False
        return await self._send_some(running[0])

    async def _send_some(self, broadcast: Broadcast) -> bool:
        store = self._store
        # Claims left by a sender that died (older than a lease TTL): never sent again.
        if expired := await store.expire_recipient_claims(broadcast.id, self._lease_ttl):
            log.warning(
                "broadcast %s: %d claims of a stopped sender are unknown", broadcast.id, expired
            )
        until = self._clock() + self._lease_ttl.total_seconds() / 3
        while self._clock() < until:
            if await store.count_codes_due():
                await self._sleep(_CODE_WAIT)  # codes first
                continue
            await self._pace()
            user_id = await store.claim_recipient(broadcast.id, self._replica)
            if user_id is None:
                finished = await store.finish_broadcast(broadcast.id)
                if finished:
                    await self._report_finished()
                return finished
            await self._send(broadcast, user_id)
            await self._progress(broadcast)
        return True

    async def _pace(self) -> None:
        wait = self._next_send - self._clock()
        if wait > 0:
            await self._sleep(wait)
        self._next_send = max(self._next_send, self._clock()) + self._gap

    async def _send(self, broadcast: Broadcast, user_id: int) -> None:
        """Send one claimed copy and record what became of it."""
        store = self._store
        user = await store.get_user(user_id)
        if user is None or not user.chat_active:
            await store.settle_recipient(
                broadcast.id, user_id, self._replica, RecipientState.BLOCKED
            )
            return
        if user.announcements_muted:
            await store.settle_recipient(
                broadcast.id, user_id, self._replica, RecipientState.SKIPPED
            )
            return
        screen = views.announcement(get_translator(user.language or "en"), broadcast.text)
        outcome = await attempt(
            self._bot.send_message(
                user_id,
                screen.text,
                parse_mode=ParseMode.HTML,
                reply_markup=screen.markup,
                rate_limit_args=BACKGROUND,  # a 429 comes back here, not retried inside
            )
        )
        state, message_id = RecipientState.SENT, None
        match outcome:
            case Sent(message):
                message_id = message.message_id
            case Refused(blocked=True):
                await store.set_chat_active(user_id, False)
                state = RecipientState.BLOCKED
            case Refused() if outcome.answered:
                log.info("announcement to user %s refused: %s", user_id, outcome.description)
                state = RecipientState.FAILED
            case Refused() | RetryLater():
                # Nothing was delivered (flood control, or no connection): hand the row
                # back and wait before the next send.
                await store.settle_recipient(
                    broadcast.id, user_id, self._replica, RecipientState.PENDING
                )
                wait = outcome.delay if isinstance(outcome, RetryLater) else None
                await self._sleep(wait.total_seconds() if wait is not None else self._interval)
                return
            case Unknown():
                log.warning(
                    "announcement to user %s: outcome unknown (%s)",
                    user_id,
                    describe(outcome.error),
                )
                state = RecipientState.UNKNOWN
        await store.settle_recipient(broadcast.id, user_id, self._replica, state, message_id)

    async def _progress(self, broadcast: Broadcast) -> None:
        """Keep the operator's progress message current, at most every ``progress_every``."""
        moment = self._clock()
        if broadcast.progress_message_id is None or moment < self._next_progress.get(
            broadcast.id, 0.0
        ):
            return
        self._next_progress[broadcast.id] = moment + self._progress_every
        t = await self._admin_translator(broadcast.admin_id)
        tally = await self._store.tally(broadcast.id)
        await self._show(broadcast, views.broadcast_progress(t, broadcast.id, tally))

    async def _show(self, broadcast: Broadcast, screen: views.Screen) -> None:
        """Edit the progress message into ``screen`` (a failure only costs one redraw)."""
        if broadcast.progress_message_id is None or self._shown.get(broadcast.id) == screen.text:
            return
        outcome = await attempt(
            self._bot.edit_message_text(
                screen.text,
                chat_id=broadcast.admin_id,
                message_id=broadcast.progress_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=screen.markup,
            )
        )
        if not isinstance(outcome, Sent | RetryLater):
            log.info("progress of broadcast %s not shown: %s", broadcast.id, outcome)
        self._shown[broadcast.id] = screen.text

    async def _admin_translator(self, admin_id: int) -> Translator:
        admin = await self._store.get_user(admin_id)
        return get_translator(admin.language if admin and admin.language else "en")

    async def _report_finished(self) -> None:
        """Tell the operator how each finished or cancelled broadcast went (once each)."""
        for broadcast in await self._store.unreported_broadcasts():
            if not await self._store.claim_report(broadcast.id):
                continue
            t = await self._admin_translator(broadcast.admin_id)
            tally = await self._store.tally(broadcast.id)
            cancelled = broadcast.state is BroadcastState.CANCELLED
            await self._show(
                broadcast, views.broadcast_progress_final(t, tally, cancelled=cancelled)
            )
            report = views.broadcast_report(t, tally, cancelled=cancelled)
            outcome = await attempt(
                self._bot.send_message(broadcast.admin_id, report.text, parse_mode=ParseMode.HTML)
            )
            if not isinstance(outcome, Sent):  # at most once, like the announcements
                log.warning("report of broadcast %s not sent: %s", broadcast.id, outcome)
            self._next_progress.pop(broadcast.id, None)
            self._shown.pop(broadcast.id, None)
            log.info("broadcast %s over: %s", broadcast.id, tally)
