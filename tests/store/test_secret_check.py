"""The encryption secret is checked against the database's record, and no key is ever lost
to a wrong one: a mismatching process refuses to start, an unreadable key is kept."""

import logging
from collections.abc import AsyncIterator

import pytest

from bot.api import JiemaClient
from bot.services.accounts import AccountService, KeyUnreadableError, SecretMismatchError
from bot.store import Store
from bot.vault import KeyVault, generate_secret

from .conftest import OTHER_USER, USER, user_of

KEY = "jm_" + "a" * 24


@pytest.fixture
async def api() -> AsyncIterator[JiemaClient]:
    """A client nothing here calls: checking secrets and reading keys stay local."""
    client = JiemaClient("http://127.0.0.1:9/api", timeout=0.1)
    yield client
    await client.aclose()


async def with_key(store: Store, vault: KeyVault, user_id: int = USER) -> None:
    await store.ensure_user(user_id, "en")
    await store.set_key(user_id, vault.encrypt(user_id, KEY), vault.fingerprint(KEY), "Alice")


async def test_the_first_secret_is_recorded_and_only_it_is_accepted(
    store: Store, api: JiemaClient
) -> None:
    first = KeyVault.from_secret(generate_secret())
    await AccountService(api, store, first).check_secret()
    await AccountService(api, store, first).check_secret()  # a restart, or another replica
    await with_key(store, first)
    with pytest.raises(SecretMismatchError, match="BOT_SECRET_KEY"):
        await AccountService(api, store, KeyVault.from_secret(generate_secret())).check_secret()
    assert (await user_of(store, USER)).key_cipher is not None
    assert await store.secret_check() == first.check_value


async def test_keys_stored_before_the_check_existed_decide_the_first_record(
    store: Store, api: JiemaClient
) -> None:
    sealer = KeyVault.from_secret(generate_secret())
    await with_key(store, sealer)
    await with_key(store, sealer, OTHER_USER)
    with pytest.raises(SecretMismatchError):
        await AccountService(api, store, KeyVault.from_secret(generate_secret())).check_secret()
    assert await store.secret_check() is None  # the wrong secret recorded nothing
    await AccountService(api, store, sealer).check_secret()
    assert await store.secret_check() == sealer.check_value


async def test_an_undecryptable_key_is_reported_and_kept(
    store: Store, api: JiemaClient, caplog: pytest.LogCaptureFixture
) -> None:
    await with_key(store, KeyVault.from_secret(generate_secret()))
    accounts = AccountService(api, store, KeyVault.from_secret(generate_secret()))
    with caplog.at_level(logging.WARNING, logger="bot.services.accounts"):
        for _ in range(3):
            with pytest.raises(KeyUnreadableError):
                await accounts.key_for(USER)
    user = await user_of(store, USER)
    assert user.key_cipher is not None
    assert user.display_name == "Alice"
    [record] = [r for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    assert "BOT_SECRET_KEY" in record.getMessage()
    assert KEY not in record.getMessage()


async def test_erasing_the_keys_lets_a_new_secret_start(store: Store, api: JiemaClient) -> None:
    lost = KeyVault.from_secret(generate_secret())
    await AccountService(api, store, lost).check_secret()
    await with_key(store, lost)
    await store.ensure_user(OTHER_USER, "en")
    assert await store.erase_keys() == 1
    assert (await user_of(store, USER)).key_cipher is None
    assert await store.secret_check() is None
    await AccountService(api, store, KeyVault.from_secret(generate_secret())).check_secret()
