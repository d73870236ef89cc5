"""What the bot keeps about people, and for how long: erasing a user on request
(``/forget``), and purging SMS bodies and phone numbers past the retention period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from bot.store.base import Repository, ts

__all__ = ["Forgotten", "PrivacyRepository", "Purged"]

# An order still watched, or a purchase whose outcome is not known yet: erasing them would
# lose a code the user paid for, or the record that settles their money.
_BUSY: Final = (
    "SELECT 1 AS busy FROM orders WHERE user_id = ?"
    " AND (status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0)"
    " UNION ALL SELECT 1 AS busy FROM purchases WHERE user_id = ?"
    " AND state IN ('creating', 'unknown')"
)

# Every row holding the user's id, children before their parents. A broadcast an operator
# is sending right now is left alone (its recipients are other people).
_ERASE: Final = (
    "DELETE FROM sms_deliveries WHERE order_id IN (SELECT id FROM orders WHERE user_id = ?)",
    "DELETE FROM orders WHERE user_id = ?",
    "DELETE FROM purchases WHERE user_id = ?",
    "DELETE FROM recent_services WHERE user_id = ?",
    "DELETE FROM favourites WHERE user_id = ?",
    "DELETE FROM alerts WHERE user_id = ?",
    "DELETE FROM broadcast_recipients WHERE user_id = ?",
    "DELETE FROM broadcast_recipients WHERE broadcast_id IN"
    " (SELECT id FROM broadcasts WHERE admin_id = ? AND state <> 'sending')",
    "DELETE FROM broadcasts WHERE admin_id = ? AND state <> 'sending'",
    "DELETE FROM users WHERE telegram_id = ?",
)


@dataclass(frozen=True, slots=True)
class Forgotten:
    """The outcome of :meth:`PrivacyRepository.forget_user`."""

    erased: bool
    """False: an order or a purchase was still open, and nothing was erased."""


@dataclass(frozen=True, slots=True)
class Purged:
    """What one retention pass emptied."""

    bodies: int
    phones: int


class PrivacyRepository(Repository):
    """Erasure and retention, over every table that names a user."""

    __slots__ = ()

    async def is_busy(self, user_id: int) -> bool:
        """Whether the user has an order still watched or a purchase not settled yet."""
        return await self._fetch_one(_BUSY, (user_id, user_id)) is not None

    async def forget_user(self, user_id: int) -> Forgotten:
        """Erase every row about ``user_id`` in one transaction, unless something is open."""
        async with self._db.transaction() as tx:
            if await tx.fetch_one(_BUSY, (user_id, user_id)) is not None:
                return Forgotten(erased=False)
            for statement in _ERASE:
                await tx.execute(statement, (user_id,))
        return Forgotten(erased=True)

    async def purge_before(self, cutoff: datetime) -> Purged:
        """Empty the SMS bodies received before ``cutoff``, and the phone numbers of orders
        created before it that have ended and been reported.

        The rows stay (``/stats`` counts deliveries and orders); only their contents go.
        A code still waiting to be pushed keeps its body.
        """
        when = ts(cutoff)
        async with self._db.transaction() as tx:
            bodies = await tx.execute(
                "UPDATE sms_deliveries SET body = '' WHERE body <> '' AND created_at < ?"
                " AND (state = 'sent' OR given_up = 1)",
                (when,),
            )
            phones = await tx.execute(
                "UPDATE orders SET phone = '' WHERE phone <> '' AND created_at < ?"
                " AND status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND final_notified = 1",
                (when,),
            )
        return Purged(bodies=bodies, phones=phones)
