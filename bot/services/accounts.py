"""Linking a user's API key to their Telegram account, and getting it back for requests."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from bot.api import Account, ApiKey, JiemaClient
from bot.api.errors import AuthError, ForbiddenError
from bot.store import Store, User
from bot.vault import KeyVault, VaultError

log = logging.getLogger(__name__)

BALANCE_REUSE: Final = 60.0
"""Seconds a balance read serves the next confirmations and top-up checks of the same key.

A user buying several numbers confirms every few seconds: one read a minute instead of two
per purchase leaves the key's read budget to the poller, which brings their codes."""
BALANCES_KEPT: Final = 10_000
"""Recent balances remembered at most (least recently read forgotten first)."""


class NotLinkedError(Exception):
    """The user has no API key linked (or it was found revoked)."""


@dataclass(frozen=True, slots=True)
class Linked:
    """The key was accepted by the API and stored (encrypted)."""

    account: Account


@dataclass(frozen=True, slots=True)
class NotAKey:
    """The text is not shaped like a jiema key; nothing was sent anywhere."""


@dataclass(frozen=True, slots=True)
class KeyRefused:
    """The API refused the key (revoked, mistyped, banned account); nothing stored."""


LinkOutcome = Linked | NotAKey | KeyRefused


@dataclass(frozen=True, slots=True)
class Unlinked:
    """The key is erased."""


@dataclass(frozen=True, slots=True)
class ConfirmUnlink:
    """Orders are still watched: ask before erasing the key (they would stop being polled)."""

    active_orders: int


@dataclass(frozen=True, slots=True)
class NothingLinked:
    """There was no key to unlink."""


UnlinkOutcome = Unlinked | ConfirmUnlink | NothingLinked


class AccountService:
    """Keys are validated against the API, stored encrypted, and decrypted on demand.

    Decrypted keys are cached per user *together with the ciphertext they came from*, and the
    cache is only used while the database still holds that ciphertext. The database row is
    read on every lookup, so a key unlinked or replaced on another replica is never used
    here: the cache saves the decryption, never the check.
    """

    def __init__(
        self,
        api: JiemaClient,
        store: Store,
        vault: KeyVault,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._store = store
        self._vault = vault
        self._clock = clock
        self._keys: dict[int, tuple[bytes, ApiKey]] = {}
        # key id -> (when read, the account as read less what was bought since)
        self._balances: OrderedDict[str, tuple[float, Account]] = OrderedDict()

    async def link(self, user_id: int, text: str) -> LinkOutcome:
        """Validate the key in ``text`` with ``GET /v1/account`` and store it for ``user_id``.

        Raises:
            bot.api.errors.JiemaError: the API failed (not a refusal); nothing stored.
        """
        key = ApiKey.parse(text)
        if key is None:
            return NotAKey()
        try:
            account = await self._api.account(key)
        except (AuthError, ForbiddenError):
            return KeyRefused()
        cipher = self._vault.encrypt(user_id, key.secret)
        await self._store.set_key(
            user_id, cipher, self._vault.fingerprint(key.secret), account.display_name
        )
        self._keys[user_id] = (cipher, key)
        return Linked(account)

    async def unlink(self, user_id: int, *, confirmed: bool = False) -> UnlinkOutcome:
        """Forget the user's key; with active orders, only once ``confirmed``."""
        user = await self._store.get_user(user_id)
        if user is None or not user.has_key:
            return NothingLinked()
        if not confirmed:
            active = await self._store.active_orders_for_user(user_id)
            if active:
                return ConfirmUnlink(len(active))
        await self._forget(user_id)
        return Unlinked()

    async def _forget(self, user_id: int) -> None:
        await self._store.clear_key(user_id)
        self._keys.pop(user_id, None)

    async def key_for(self, user_id: int, *, user: User | None = None) -> ApiKey:
        """The user's key, as the database holds it now.

        Args:
            user_id: Whose key.
            user: The user's row as the caller has just read it (saves reading it again;
                the poller does this for every key in every round).

        Raises:
            NotLinkedError: no key is linked.
        """
        if user is None or user.telegram_id != user_id:
            user = await self._store.get_user(user_id)
        if user is None or user.key_cipher is None:
            self._keys.pop(user_id, None)
            raise NotLinkedError
        cached = self._keys.get(user_id)
        if cached is not None and cached[0] == user.key_cipher:
            return cached[1]
        try:
            key = ApiKey(self._vault.decrypt(user_id, user.key_cipher))
        except VaultError:
            # The encryption secret changed (BOT_SECRET_KEY lost or replaced): the stored
            # key is unreadable for good, so forget it and let the user link it again.
            log.warning("stored key of user %s cannot be decrypted; unlinking it", user_id)
            await self._forget(user_id)
            raise NotLinkedError from None
        self._keys[user_id] = (user.key_cipher, key)
        return key

    def fingerprint(self, key: ApiKey) -> str:
        """A keyed, non-reversible id of ``key`` (groups orders by key without storing it)."""
        return self._vault.fingerprint(key.secret)

    async def account(self, user_id: int) -> Account:
        """The user's account (balance) read fresh from the API.

        Raises:
            NotLinkedError: no key is linked.
            bot.api.errors.JiemaError: the API failed.
        """
        return await self._read_account(await self.key_for(user_id))

    async def recent_account(self, key: ApiKey, *, covering: int = 0) -> Account:
        """The account as read at most ``BALANCE_REUSE`` seconds ago, less the purchases
        made since (:meth:`charged`), if its balance covers ``covering`` cents; else read
        fresh (the user may have topped up since: a shortfall is always confirmed).

        Raises:
            bot.api.errors.JiemaError: the API failed.
        """
        known = self._balances.get(key.id)
        if known is not None:
            read_at, account = known
            if self._clock() - read_at <= BALANCE_REUSE and account.balance_cents >= covering:
                return account
        return await self._read_account(key)

    def charged(self, key: ApiKey, cents: int) -> None:
        """A purchase with ``key`` cost ``cents``: a recent balance drops by as much."""
        known = self._balances.get(key.id)
        if known is not None:
            read_at, account = known
            balance = account.balance_cents - cents
            self._balances[key.id] = (read_at, replace(account, balance_cents=balance))

    def forget_balance(self, key: ApiKey) -> None:
        """The balance changed in a way not known here (refund, refused or unclear buy)."""
        self._balances.pop(key.id, None)

    async def _read_account(self, key: ApiKey) -> Account:
        account = await self._api.account(key)
        self._balances[key.id] = (self._clock(), account)
        self._balances.move_to_end(key.id)
        while len(self._balances) > BALANCES_KEPT:
            self._balances.popitem(last=False)
        return account
