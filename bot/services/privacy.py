"""What the bot keeps about people: ``/forget`` erases a user, and SMS bodies and phone
numbers are purged once they are older than the retention period (``RETENTION_DAYS``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from bot.store import Store
from bot.store.privacy import Purged

log = logging.getLogger(__name__)

PURGE_EVERY: Final = timedelta(hours=1)
"""How often a replica holding the fleet's chores purges (one cheap pass on an index)."""


@dataclass(frozen=True, slots=True)
class ConfirmForget:
    """Nothing is open: ask before erasing everything."""


@dataclass(frozen=True, slots=True)
class Forgot:
    """Everything about the user is erased."""


@dataclass(frozen=True, slots=True)
class ForgetRefused:
    """An order is still watched (or a purchase unsettled): nothing erased."""


ForgetOutcome = ConfirmForget | Forgot | ForgetRefused


class PrivacyService:
    """Erasure on request and retention.

    Args:
        store: The database.
        retention: How long SMS bodies and the phone numbers of ended orders are kept.
        clock: The current time (tests drive it).
        every: How often :meth:`purge_if_due` purges.
    """

    def __init__(
        self,
        store: Store,
        *,
        retention: timedelta,
        clock: Callable[[], datetime] | None = None,
        every: timedelta = PURGE_EVERY,
    ) -> None:
        self._store = store
        self._retention = retention
        self._clock = clock or (lambda: datetime.now(UTC))
        self._every = every
        self._last: datetime | None = None

    async def forget(self, user_id: int, *, confirmed: bool) -> ForgetOutcome:
        """Erase every row about the user (key, orders, codes, favourites, alerts, chat
        state, the user itself), once ``confirmed``; never while something is open."""
        if not confirmed:
            return ForgetRefused() if await self._store.is_busy(user_id) else ConfirmForget()
        if not (await self._store.forget_user(user_id)).erased:
            return ForgetRefused()
        log.info("user %s erased at their request", user_id)
        return Forgot()

    async def purge(self) -> Purged:
        """Empty the SMS bodies and phone numbers older than the retention period."""
        self._last = now = self._clock()
        purged = await self._store.purge_before(now - self._retention)
        if purged.bodies or purged.phones:
            log.info(
                "retention: %d SMS bodies and %d phone numbers purged",
                purged.bodies,
                purged.phones,
            )
        return purged

    async def purge_if_due(self) -> None:
        """:meth:`purge`, at most every ``every`` (called by the fleet's chores)."""
        if self._last is None or self._clock() - self._last >= self._every:
            await self.purge()
