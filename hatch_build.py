"""Hatch build hook: compile the gettext catalogs (``locales/*/LC_MESSAGES/*.po``) to ``.mo``.

Runs for wheels and editable installs alike, so every install speaks every language:

- an editable install reads ``locales/`` of the checkout, so the ``.mo`` files are written
  next to their ``.po`` sources (atomically: tests running meanwhile read whole files);
- a wheel does not carry the top-level ``locales/``, so the ``.mo`` files are compiled into
  a temporary folder and put into the package as ``bot/locales/<code>/LC_MESSAGES/``, where
  ``bot.i18n`` looks first. The checkout is left untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogsHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compile every ``.po`` under ``locales/``: next to itself, or into a wheel's package."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._compiled: Path | None = None
        if self.target_name != "wheel":
            return
        source = Path(self.root, "locales")
        if version != "editable":
            self._compiled = Path(tempfile.mkdtemp(prefix="jiema-bot-catalogs-"))
        for po_path in sorted(source.glob("*/LC_MESSAGES/*.po")):
            relative = po_path.relative_to(source).with_suffix(".mo")
            if self._compiled is None:
                _compile(po_path, po_path.with_suffix(".mo"))
            else:
                _compile(po_path, self._compiled / relative)
                packaged = Path("bot", "locales", relative).as_posix()
                build_data["force_include"][str(self._compiled / relative)] = packaged

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._compiled is not None:
            shutil.rmtree(self._compiled, ignore_errors=True)


def _compile(po_path: Path, mo_path: Path) -> None:
    """Write ``po_path`` compiled to ``mo_path``, replacing it in one step."""
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file)
    mo_path.parent.mkdir(parents=True, exist_ok=True)
    partial = mo_path.with_name(f".{mo_path.name}.{os.getpid()}")
    with partial.open("wb") as mo_file:
        write_mo(mo_file, catalog)
    partial.replace(mo_path)
