"""System tools some tests run for real (nginx, promtool), installed by ``.ci/packages``."""

from __future__ import annotations

import os
import shutil

import pytest


def require_executable(name: str) -> str:
    """The path of ``name``; skip the test without it (fail it with ``CI=true``, where
    ``.ci/packages`` installs it, so a missing tool is never a silent skip)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is not None:
        return path
    message = f"{name} is not installed (.ci/packages installs it)"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
