"""Encryption at rest for users' jiema.my API keys.

Design:
    * AES-256-GCM (``cryptography``'s ``AESGCM``) rather than Fernet: GCM takes associated
      data, and we bind every ciphertext to the Telegram user id it belongs to. Someone who
      can write to the database still cannot move user A's ciphertext into user B's row and
      make the bot spend A's balance on B's behalf: decryption under B's id fails.
    * One 32-byte master secret (``secret.key``) feeds HKDF-SHA256 twice, with different
      ``info`` labels, to get independent keys for encryption and for the fingerprint HMAC.
    * A ciphertext is ``version byte || 12-byte random nonce || ciphertext+tag``. The version
      byte leaves room to add key rotation (a new version tried before the old one, like
      MultiFernet) without touching stored rows; there is one version today.

Nothing here logs a key, the secret or a plaintext, nor puts them in an exception or a repr.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "KEY_FILE",
    "InvalidCiphertext",
    "KeyVault",
    "VaultError",
    "generate_secret",
    "load_or_create_secret",
]

_LOGGER = logging.getLogger(__name__)

KEY_FILE = "secret.key"
_SECRET_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_AAD_PREFIX = b"jiema-bot/api-key/v1/user:"
_FINGERPRINT_CHARS = 16
_CHECK_LABEL = b"jiema-bot/secret-check"


class VaultError(Exception):
    """The vault cannot be built from the given secret, or a ciphertext is unusable."""


class InvalidCiphertext(VaultError):
    """A stored key failed authentication: tampered, another user's, or another secret's."""


def generate_secret() -> str:
    """Return a new random master secret as URL-safe base64 text (32 bytes of entropy)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def load_or_create_secret(data_dir: Path) -> str:
    """Read ``data_dir/secret.key``, creating it with a fresh secret on first use.

    The file is written to a temporary name opened with ``O_CREAT | O_EXCL`` and mode 0600,
    fsynced, then hard-linked into place. The link is what makes creation atomic: the final
    name never exists half-written (a crash cannot leave an empty secret behind), and if two
    processes race, ``os.link`` fails for the loser, which then reads the winner's secret.

    Args:
        data_dir: Directory holding the secret; created (mode 0700) if missing.

    Returns:
        The secret, to pass to :meth:`KeyVault.from_secret`.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / KEY_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    secret = generate_secret()
    tmp = data_dir / f".{KEY_FILE}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_secret(path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(data_dir)
    _LOGGER.info("Created a new encryption secret at %s", path)
    return secret


def _read_secret(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        _LOGGER.warning("%s is readable by group or others; chmod 600 it", path)
    return path.read_text(encoding="ascii").strip()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


class KeyVault:
    """Encrypts API keys for one user at a time and fingerprints them.

    Build it with :meth:`from_secret`; the constructor is private.
    """

    __slots__ = ("_aead", "_check", "_mac_key")

    def __init__(self, aead: AESGCM, mac_key: bytes, check: str) -> None:
        self._aead = aead
        self._mac_key = mac_key
        self._check = check

    def __repr__(self) -> str:
        return "KeyVault(<redacted>)"

    @classmethod
    def from_secret(cls, secret: str) -> KeyVault:
        """Build a vault from a secret made by :func:`generate_secret`.

        Raises:
            VaultError: The secret is not URL-safe base64 of exactly 32 bytes.
        """
        try:
            master = base64.urlsafe_b64decode(secret.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise VaultError("the secret is not URL-safe base64 text") from None
        if len(master) != _SECRET_BYTES:
            raise VaultError(f"the secret must decode to {_SECRET_BYTES} bytes")
        check = hmac.new(_derive(master, b"jiema-bot secret check v1"), _CHECK_LABEL, "sha256")
        return cls(
            AESGCM(_derive(master, b"jiema-bot api-key encryption v1")),
            _derive(master, b"jiema-bot api-key fingerprint v1"),
            check.hexdigest(),
        )

    @property
    def check_value(self) -> str:
        """A value that identifies the secret without revealing it (64 hex characters).

        An HMAC of a fixed label under a key derived from the secret: equal secrets give
        equal values, and the value tells nothing about the secret nor about any API key.
        The database records it at first start, so a process started with another secret
        is recognised before it touches a key.
        """
        return self._check

    def encrypt(self, user_id: int, api_key: str) -> bytes:
        """Encrypt ``api_key`` so that only ``user_id`` can get it back."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, api_key.encode("utf-8"), _aad(user_id))
        return _VERSION + nonce + sealed

    def decrypt(self, user_id: int, blob: bytes) -> str:
        """Recover the API key that :meth:`encrypt` sealed for ``user_id``.

        Raises:
            InvalidCiphertext: The blob is malformed, was modified, belongs to another user
                or was made with another secret.
        """
        if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[:1] != _VERSION:
            raise InvalidCiphertext("stored API key has an unknown format")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(user_id))
        except InvalidTag:
            raise InvalidCiphertext(
                "stored API key failed authentication (tampered, another user's, "
                "or encrypted with a different secret)"
            ) from None
        return plain.decode("utf-8")

    def fingerprint(self, api_key: str) -> str:
        """Return a short keyed digest of ``api_key``: equal keys give equal fingerprints.

        HMAC-SHA256 under a key derived from the secret, so the value cannot be checked
        against guessed keys without the secret. Truncated to 16 hex chars (64 bits).
        """
        digest = hmac.new(self._mac_key, api_key.encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()[:_FINGERPRINT_CHARS]


def _aad(user_id: int) -> bytes:
    return _AAD_PREFIX + str(int(user_id)).encode("ascii")
