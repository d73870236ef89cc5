"""The SQLite database is private: its folder 0700, the file and its WAL files 0600, also
when an older version left them readable, and the secret beside it stays 0600."""

import os
import stat
from pathlib import Path

from bot.store import open_store
from bot.vault import KEY_FILE, load_or_create_secret

from .conftest import USER


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def database_files(data_dir: Path) -> list[Path]:
    return [data_dir / f"bot.sqlite3{suffix}" for suffix in ("", "-wal", "-shm")]


async def test_a_new_deployment_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless told otherwise
    try:
        store = await open_store(None, data_dir)
        await store.ensure_user(USER, "en")  # a write: the WAL files exist
        load_or_create_secret(data_dir)
    finally:
        os.umask(old)
    try:
        assert mode(data_dir) == 0o700
        for path in database_files(data_dir):
            assert mode(path) == 0o600, path.name
        assert mode(data_dir / KEY_FILE) == 0o600
    finally:
        await store.close()


async def test_an_existing_readable_deployment_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = await open_store(None, data_dir)
    await store.ensure_user(USER, "en")
    await store.close()
    data_dir.chmod(0o755)
    for path in database_files(data_dir):
        if path.exists():
            path.chmod(0o644)
    store = await open_store(None, data_dir)
    try:
        assert mode(data_dir) == 0o700
        for path in database_files(data_dir):
            assert mode(path) == 0o600, path.name
    finally:
        await store.close()
