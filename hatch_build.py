"""Hatch build hook: compile the gettext catalogs (``locales/*/LC_MESSAGES/*.po``) to ``.mo``.

Runs for wheels and editable installs alike, so every install speaks every language. The
``.mo`` files are written next to their ``.po`` sources (where an editable install reads
them); a wheel also carries them inside the package, as ``bot/locales/<code>/LC_MESSAGES/``,
since the top-level ``locales/`` is not part of it (``bot.i18n`` looks there first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogsHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compile every ``.po`` under ``locales/`` next to itself; put the ``.mo`` in wheels."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        source = Path(self.root, "locales")
        for po_path in sorted(source.glob("*/LC_MESSAGES/*.po")):
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            mo_path = po_path.with_suffix(".mo")
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            if self.target_name == "wheel" and version != "editable":
                packaged = Path("bot", "locales", mo_path.relative_to(source)).as_posix()
                build_data["force_include"][str(mo_path)] = packaged
