"""The README's test command is the one `.ci/run` runs, word for word."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_shows_the_command_ci_runs() -> None:
    (command,) = (
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.startswith("python3 -m venv")
    )
    assert command in (ROOT / "README.md").read_text().splitlines()
