import asyncio
from datetime import UTC

from bot.store import Store

from .conftest import OTHER_USER, USER, user_of

CIPHER = b"\x01ciphertext"
FINGERPRINT = "0123456789abcdef"


async def test_ensure_user_creates_with_defaults(store: Store) -> None:
    user = await store.ensure_user(42, "ru")
    assert user.telegram_id == 42
    assert user.language == "ru"
    assert user.key_cipher is None
    assert user.key_fingerprint is None
    assert not user.has_key
    assert user.chat_active
    assert not user.key_revoked
    assert user.created_at.tzinfo is UTC
    assert await store.get_user(42) == user


async def test_ensure_user_never_overwrites_language(store: Store) -> None:
    await store.ensure_user(USER, "zh")
    again = await store.ensure_user(USER, None)
    assert again.language == "en"
    assert await store.users_count() == 2


async def test_ensure_user_fills_a_missing_language(store: Store) -> None:
    filled = await store.ensure_user(OTHER_USER, "pt")
    assert filled.language == "pt"
    assert (await store.ensure_user(OTHER_USER, "es")).language == "pt"


async def test_get_or_create_user_says_when_it_created_the_user(store: Store) -> None:
    created, was_created = await store.get_or_create_user(42, "ar")
    assert was_created
    assert created.language == "ar"
    assert await store.get_or_create_user(42, "ar") == (created, False)
    # Filling in the missing language of a known user is not creating it.
    assert (await store.get_or_create_user(OTHER_USER, "pt"))[1] is False


async def test_get_unknown_user(store: Store) -> None:
    assert await store.get_user(999) is None


async def test_set_language(store: Store) -> None:
    await store.set_language(USER, "it")
    user = await user_of(store, USER)
    assert user.language == "it"
    await store.set_language(USER, None)
    assert (await user_of(store, USER)).language is None


async def test_set_and_clear_key(store: Store) -> None:
    before = await user_of(store, USER)
    await store.set_key(USER, CIPHER, FINGERPRINT, "Alice")
    user = await user_of(store, USER)
    assert user.has_key
    assert (user.key_cipher, user.key_fingerprint, user.display_name) == (
        CIPHER,
        FINGERPRINT,
        "Alice",
    )
    assert user.updated_at > before.updated_at
    assert "ciphertext" not in repr(user)
    await store.clear_key(USER)
    cleared = await user_of(store, USER)
    assert (cleared.key_cipher, cleared.key_fingerprint, cleared.display_name) == (None, None, None)


async def test_key_revoked_is_reported_once_and_reset_by_a_new_key(store: Store) -> None:
    assert not await store.set_key_revoked(USER)  # no key stored: nothing to revoke
    await store.set_key(USER, CIPHER, FINGERPRINT, None)
    assert await store.set_key_revoked(USER)
    assert not await store.set_key_revoked(USER)
    assert (await user_of(store, USER)).key_revoked
    await store.set_key(USER, b"\x01other", "fedcba9876543210", None)
    user = await user_of(store, USER)
    assert not user.key_revoked
    assert await store.set_key_revoked(USER)


async def test_key_revoked_for_a_replaced_key_is_ignored(store: Store) -> None:
    await store.set_key(USER, CIPHER, "new-fingerprint0", None)
    assert not await store.set_key_revoked(USER, fingerprint="old-fingerprint0")
    assert await store.set_key_revoked(USER, fingerprint="new-fingerprint0")


async def test_clear_key_resets_revoked(store: Store) -> None:
    await store.set_key(USER, CIPHER, FINGERPRINT, None)
    await store.set_key_revoked(USER)
    await store.clear_key(USER)
    assert not (await user_of(store, USER)).key_revoked


async def test_chat_active(store: Store) -> None:
    await store.set_chat_active(USER, False)
    assert not (await user_of(store, USER)).chat_active
    await store.set_chat_active(USER, True)
    assert (await user_of(store, USER)).chat_active


async def test_setters_ignore_unknown_users(store: Store) -> None:
    await store.set_language(999, "en")
    await store.set_key(999, CIPHER, FINGERPRINT, None)
    await store.set_chat_active(999, False)
    assert await store.get_user(999) is None
    assert await store.users_count() == 2


async def test_store_stays_usable_after_cancelled_writes(store: Store) -> None:
    for spins in range(6):
        tasks = [asyncio.create_task(store.set_language(USER, f"l{n}")) for n in range(10)]
        for _ in range(spins):
            await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await store.set_language(USER, "en")
    assert (await user_of(store, USER)).language == "en"
