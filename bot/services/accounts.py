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


class KeyUnreadableError(NotLinkedError):
    """A key is stored but this process cannot decrypt it; it is kept, and reported.

    A subclass of :class:`NotLinkedError`, so jobs skip the user as they skip one with no
    key; what the user is told differs (the key is there, try later or link it again).
    """


class SecretMismatchError(Exception):
    """This process's encryption secret is not the one the database's keys were sealed with."""

    def __str__(self) -> str:
        return (
            "BOT_SECRET_KEY does not match the secret this database's keys were encrypted "
            "with; start with the original BOT_SECRET_KEY (or BOT_DATA_DIR/secret.key), or, "
            "if it is lost for good, erase the stored keys with "
            "python -m bot reset-secret --erase-keys"
        )


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

_KEYS_TRIED: Final = 20
"""Stored keys a secret is tried on when a database without a check value first meets one."""


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
        self._reported: set[bytes] = set()
        # key id -> (when read, the account as read less what was bought since)
        self._balances: OrderedDict[str, tuple[float, Account]] = OrderedDict()

    async def check_secret(self) -> None:
        """Refuse to run with another secret than the one the stored keys were sealed with.

        The first start records the secret's check value. A database from before the check
        existed gets it recorded only if this secret opens one of its stored keys (or it
        has none). Replicas starting together with different secrets: the first one to
        record wins, the others refuse.

        Raises:
            SecretMismatchError: The recorded value (or every stored key tried) says no.
        """
        mine = self._vault.check_value
        if await self._store.secret_check() is None:
            sample = await self._store.sample_keys(_KEYS_TRIED)
            if sample and not any(self._opens(user_id, cipher) for user_id, cipher in sample):
                raise SecretMismatchError
        if await self._store.record_secret_check(mine) != mine:
            raise SecretMismatchError

    def _opens(self, user_id: int, cipher: bytes) -> bool:
        try:
            self._vault.decrypt(user_id, cipher)
        except VaultError:
            return False
        return True

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
        await self._store.clear_key(user_id)
        self._keys.pop(user_id, None)
        return Unlinked()

    async def key_for(self, user_id: int, *, user: User | None = None) -> ApiKey:
        """The user's key, as the database holds it now.

        Args:
            user_id: Whose key.
            user: The user's row as the caller has just read it (saves reading it again;
                the poller does this for every key in every round).

        Raises:
            NotLinkedError: no key is linked.
            KeyUnreadableError: a key is stored but cannot be decrypted here; it is kept.
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
            # Never unlinked here: a wrong secret is a configuration slip to fix, and the
            # key is the user's. Reported once per stored ciphertext, not every poll round.
            if user.key_cipher not in self._reported:
                self._reported.add(user.key_cipher)
                log.warning(
                    "stored key of user %s cannot be decrypted (kept): is BOT_SECRET_KEY "
                    "the one it was encrypted with?",
                    user_id,
                )
            raise KeyUnreadableError from None
        self._keys[user_id] = (user.key_cipher, key)
        return key

    def fingerprint(self, key: ApiKey) -> str:
        """A keyed, non-reversible id of ``key`` (groups orders by key without storing it)."""
        return self._vault.fingerprint(key.secret)

    async def account(self, user_id: int, *, user: User | None = None) -> Account:
        """The user's account (balance) read fresh from the API.

        Args:
            user: The user's row as the caller has just read it (saves reading it again).

        Raises:
            NotLinkedError: no key is linked.
            bot.api.errors.JiemaError: the API failed.
        """
        return await self._read_account(await self.key_for(user_id, user=user))

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
