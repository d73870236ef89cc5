"""Which keys this replica polls: the ``poll:<user id>`` leases, shared fairly by the fleet.

Every replica announces itself each round (its heartbeat), renews the leases it holds and
balances: it takes free keys up to its share of those with active orders and hands back
those over it. Leases expire ``LEASE_TTL`` after a replica stops renewing them (killed),
when the others take the keys over, with the codes that replica had claimed and not sent; a
replica that stops politely hands its leases back at once. So each key is polled by exactly
one replica, and the per-key API budget holds however many replicas run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Final

from bot.metrics import Metrics
from bot.store import POLL_PREFIX, Store

__all__ = ["LEASE_TTL", "PollLeases"]
LEASE_TTL: Final = timedelta(seconds=10)
"""A killed replica's keys are taken over within this plus one round (the issue asks 15 s)."""


class PollLeases:
    """This replica's share of the keys to poll, renewed and balanced once per round.

    Args:
        replica_id: This process's name in the leases table.
        lease_ttl: How long a lease outlives a replica that stopped renewing it (killed).
        on_replicas: Told the number of live replicas every round (the Telegram pacing
            shares the bot's overall rate among them).
    """

    def __init__(
        self,
        store: Store,
        *,
        replica_id: str,
        metrics: Metrics,
        lease_ttl: timedelta = LEASE_TTL,
        on_replicas: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self.replica_id = replica_id
        """This process's name in the leases table (the holder of its leases)."""
        self._metrics = metrics
        self._lease_ttl = lease_ttl
        self._on_replicas = on_replicas
        self.mine: set[int] = set()
        """The keys this replica polls, as of the last balancing."""

    async def join(self) -> None:
        """Announce this replica and tell ``on_replicas`` how many are live, taking nothing."""
        await self._store.heartbeat(self.replica_id)
        replicas = len(await self._store.live_replicas(self._lease_ttl))
        if self._on_replicas is not None:
            self._on_replicas(max(1, replicas))

    async def renew(self) -> set[str]:
        """Announce this replica and renew its leases; the names of those it still holds.

        The sends a dead replica (silent for a lease TTL) had claimed are freed for the
        others: its keys are theirs now, and so are their codes.
        """
        await self._store.heartbeat(self.replica_id)
        held = await self._store.renew_leases(self.replica_id, self._lease_ttl)
        await self._store.expire_claims_of_dead_replicas(self._lease_ttl)
        return held

    async def balance(self, wanted: set[int], held: set[str], busy: Collection[int]) -> set[int]:
        """Settle :attr:`mine` to this replica's fair share of ``wanted``; the keys just taken.

        Each replica holds about ``ceil(keys / live replicas)`` leases: it takes free keys up
        to its share and hands back those over it (one spare allowed, so shares do not
        flap), so a new replica gets work within a round or two and the keys of a dead one
        (whose leases expired) are taken over by the rest.

        Args:
            wanted: The keys with active orders.
            held: The lease names :meth:`renew` returned.
            busy: Keys being polled now, never handed back: one whose poll runs (posting its
                cards at the chat's pace) would otherwise be polled, and sent to, by two
                replicas.
        """
        mine = {int(name[len(POLL_PREFIX) :]) for name in held if name.startswith(POLL_PREFIX)}
        done = mine - wanted
        mine &= wanted
        replicas = max(1, len(await self._store.live_replicas(self._lease_ttl)))
        self._metrics.live_replicas.set(replicas)
        if self._on_replicas is not None:
            self._on_replicas(replicas)
        share = math.ceil(len(wanted) / replicas)
        surplus = len(mine) - (share + 1)
        idle = sorted(mine - set(busy))
        extra = idle[max(0, len(idle) - surplus) :] if surplus > 0 else []
        mine -= set(extra)
        # Before any await: a poll waiting for its turn checks ``mine`` to learn that its
        # key was handed back (and another replica may take it at once).
        self.mine = mine
        if done or extra:
            await self._store.release_leases(
                self.replica_id, [f"{POLL_PREFIX}{user_id}" for user_id in (*done, *extra)]
            )
        taken: set[int] = set()
        if len(mine) < share:
            leased = await self._store.live_leases(POLL_PREFIX)
            free = sorted(u for u in wanted - mine if f"{POLL_PREFIX}{u}" not in leased)
            for user_id in free:
                if len(mine) >= share:
                    break
                name = f"{POLL_PREFIX}{user_id}"
                if await self._store.acquire_lease(name, self.replica_id, self._lease_ttl):
                    mine.add(user_id)
                    taken.add(user_id)
        self._metrics.leased_keys.set(len(mine))
        return taken

    async def release(self) -> None:
        """Hand every lease of this replica back and leave the fleet (a polite stop).

        Raises:
            StoreUnavailableError: the database is unavailable (the leases then expire).
        """
        await self._store.release_leases(self.replica_id)
        await self._store.drop_replica(self.replica_id)
