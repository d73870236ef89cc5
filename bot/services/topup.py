"""Topping up: the road back to jiema.my when the balance runs short.

The API has no top-up endpoint, so the bot links to the site (``JIEMA_SITE_URL``). The
refusal ``INSUFFICIENT``, the confirmation that cannot be afforded and ``/balance`` always
carry the link; after a purchase that leaves less than its price (the user could not buy
the same number again), the bot says so once, at most once per day per user (stored).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from bot.api.errors import JiemaError
from bot.services.accounts import AccountService, NotLinkedError
from bot.store import Store, StoredOrder

log = logging.getLogger(__name__)

HINT_EVERY: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RunningLow:
    """The balance after a purchase is below that purchase's price."""

    balance_cents: int
    price_cents: int


class TopUpService:
    """Decides when to suggest a top-up after a purchase."""

    def __init__(
        self, accounts: AccountService, store: Store, *, every: timedelta = HINT_EVERY
    ) -> None:
        self._accounts = accounts
        self._store = store
        self._every = every

    async def after_purchase(self, order: StoredOrder) -> RunningLow | None:
        """The heads-up to give after ``order`` was bought, or None.

        The balance is that of the confirmation less the purchase's charge when it was read
        moments ago, else read (one request); only when a heads-up is due at all. The
        heads-up is recorded before it is returned, so it comes once however many replicas
        or purchases race. A failed balance read just skips it: it is a convenience.
        """
        user_id = order.user_id
        if not await self._store.topup_hint_due(user_id, self._every):
            return None
        try:
            key = await self._accounts.key_for(user_id)
            account = await self._accounts.recent_account(key)
        except (JiemaError, NotLinkedError) as exc:
            log.info("no top-up check for user %s: %s", user_id, type(exc).__name__)
            return None
        if account.balance_cents >= order.charged_cents:
            return None
        if not await self._store.claim_topup_hint(user_id, self._every):
            return None
        return RunningLow(account.balance_cents, order.charged_cents)
