"""The playground's data directory: fresh at each start, and never someone else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.playground import PlaygroundError
from bot.playground.run import MARKER, prepare_data_dir


def test_a_new_directory_becomes_the_playgrounds(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    prepare_data_dir(data_dir)
    assert (data_dir / MARKER).is_file()


def test_the_database_of_an_earlier_run_is_removed(tmp_path: Path) -> None:
    prepare_data_dir(tmp_path)
    for name in ("bot.sqlite3", "bot.sqlite3-wal", "secret.key", "bot.log"):
        (tmp_path / name).write_text("earlier run")
    prepare_data_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER, "bot.log", "secret.key"]


def test_a_directory_with_other_data_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "bot.sqlite3").write_text("a real deployment's users")
    with pytest.raises(PlaygroundError, match="not a playground's data directory"):
        prepare_data_dir(tmp_path)
    assert (tmp_path / "bot.sqlite3").read_text() == "a real deployment's users"
    assert not (tmp_path / MARKER).exists()
