import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.vault import (
    KEY_FILE,
    InvalidCiphertext,
    KeyVault,
    VaultError,
    generate_secret,
    load_or_create_secret,
)

API_KEY = "jm_" + "A1b2C3d4E5" * 4 + "xyz"
USER = 123456789
VAULT = KeyVault.from_secret(generate_secret())


def test_round_trip() -> None:
    blob = VAULT.encrypt(USER, API_KEY)
    assert VAULT.decrypt(USER, blob) == API_KEY
    assert API_KEY.encode() not in blob


@given(user_id=st.integers(min_value=1, max_value=2**52), key=st.text(max_size=200))
def test_round_trip_any_input(user_id: int, key: str) -> None:
    assert VAULT.decrypt(user_id, VAULT.encrypt(user_id, key)) == key


def test_each_encryption_uses_a_fresh_nonce() -> None:
    assert VAULT.encrypt(USER, API_KEY) != VAULT.encrypt(USER, API_KEY)


def test_every_flipped_byte_is_detected() -> None:
    blob = VAULT.encrypt(USER, API_KEY)
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidCiphertext):
            VAULT.decrypt(USER, bytes(tampered))


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + b"\x00" * 27, b"\x02" + b"\x00" * 40])
def test_malformed_blob(blob: bytes) -> None:
    with pytest.raises(InvalidCiphertext):
        VAULT.decrypt(USER, blob)


def test_ciphertext_is_bound_to_its_user() -> None:
    blob = VAULT.encrypt(USER, API_KEY)
    with pytest.raises(InvalidCiphertext):
        VAULT.decrypt(USER + 1, blob)


def test_wrong_secret_fails_without_leaking_the_key() -> None:
    blob = VAULT.encrypt(USER, API_KEY)
    other = KeyVault.from_secret(generate_secret())
    with pytest.raises(InvalidCiphertext) as caught:
        other.decrypt(USER, blob)
    assert API_KEY not in str(caught.value)
    assert caught.value.__cause__ is None


def test_repr_reveals_nothing() -> None:
    assert repr(VAULT) == "KeyVault(<redacted>)"


@pytest.mark.parametrize("secret", ["", "not base64!", "c2hvcnQ=", "ü" * 44])
def test_bad_secret_is_rejected(secret: str) -> None:
    with pytest.raises(VaultError):
        KeyVault.from_secret(secret)


def test_fingerprint_is_stable_short_and_keyed() -> None:
    secret = generate_secret()
    first, again = KeyVault.from_secret(secret), KeyVault.from_secret(secret)
    fingerprint = first.fingerprint(API_KEY)
    assert fingerprint == again.fingerprint(API_KEY)
    assert len(fingerprint) == 16
    assert int(fingerprint, 16) >= 0
    assert API_KEY not in fingerprint
    assert API_KEY[3:19] not in fingerprint
    assert first.fingerprint(API_KEY + "x") != fingerprint
    assert KeyVault.from_secret(generate_secret()).fingerprint(API_KEY) != fingerprint


def test_secret_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    secret = load_or_create_secret(data_dir)
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(data_dir) == secret
    assert sorted(p.name for p in data_dir.iterdir()) == [KEY_FILE]
    blob = KeyVault.from_secret(secret).encrypt(USER, API_KEY)
    reloaded = KeyVault.from_secret(load_or_create_secret(data_dir))
    assert reloaded.decrypt(USER, blob) == API_KEY


def test_secret_file_mode_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_secret(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_existing_secret_file_is_kept(tmp_path: Path) -> None:
    secret = generate_secret()
    (tmp_path / KEY_FILE).write_text(secret + "\n")
    assert load_or_create_secret(tmp_path) == secret
