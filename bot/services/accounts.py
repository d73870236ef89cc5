"""Linking a user's API key to their Telegram account, and getting it back for requests."""

from __future__ import annotations

import logging

from bot.api import Account, ApiKey, JiemaClient
from bot.store import Store
from bot.vault import KeyVault, VaultError

log = logging.getLogger(__name__)


class NotLinkedError(Exception):
    """The user has no API key linked (or it was found revoked)."""


class AccountService:
    """Keys are validated against the API, stored encrypted, and decrypted on demand.

    Decrypted keys are kept in memory per user so the poller and handlers do not decrypt on
    every request; :meth:`unlink` and :meth:`link` keep that cache right.
    """

    def __init__(self, api: JiemaClient, store: Store, vault: KeyVault) -> None:
        self._api = api
        self._store = store
        self._vault = vault
        self._keys: dict[int, ApiKey] = {}

    async def link(self, user_id: int, key: ApiKey) -> Account:
        """Validate ``key`` with ``GET /v1/account`` and store it for ``user_id``.

        Raises:
            bot.api.errors.JiemaError: the key was refused or the API failed; nothing stored.
        """
        account = await self._api.account(key)
        await self._store.set_key(
            user_id,
            self._vault.encrypt(user_id, key.secret),
            self._vault.fingerprint(key.secret),
            account.display_name,
        )
        self._keys[user_id] = key
        return account

    async def unlink(self, user_id: int) -> None:
        """Forget the user's key."""
        await self._store.clear_key(user_id)
        self._keys.pop(user_id, None)

    async def key_for(self, user_id: int) -> ApiKey:
        """The user's key.

        Raises:
            NotLinkedError: no key is linked.
        """
        key = self._keys.get(user_id)
        if key is not None:
            return key
        user = await self._store.get_user(user_id)
        if user is None or user.key_cipher is None:
            raise NotLinkedError
        try:
            key = ApiKey(self._vault.decrypt(user_id, user.key_cipher))
        except VaultError:
            # The encryption secret changed (BOT_SECRET_KEY lost or replaced): the stored
            # key is unreadable for good, so forget it and let the user link it again.
            log.warning("stored key of user %s cannot be decrypted; unlinking it", user_id)
            await self.unlink(user_id)
            raise NotLinkedError from None
        self._keys[user_id] = key
        return key

    def fingerprint(self, key: ApiKey) -> str:
        """A keyed, non-reversible id of ``key`` (groups orders by key without storing it)."""
        return self._vault.fingerprint(key.secret)

    async def account(self, user_id: int) -> Account:
        """The user's account (balance) read fresh from the API."""
        return await self._api.account(await self.key_for(user_id))
