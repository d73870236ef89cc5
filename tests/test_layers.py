"""The layers hold: no front-end module imports the store or the API client.

Front ends (the chat's handlers, views and keyboards, the Mini App's server) parse, call one
service and render; what they render and the failures they explain come from
:mod:`bot.services` (``models``, ``errors``). This walks the syntax tree of every front-end
module and refuses any import of :mod:`bot.store` or :mod:`bot.api`, whatever its spelling.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"
FRONT_ENDS = [
    *sorted((BOT / "handlers").rglob("*.py")),
    *sorted((BOT / "views").rglob("*.py")),
    BOT / "keyboards.py",
    *sorted((BOT / "webapp").rglob("*.py")),
]
FORBIDDEN = ("bot.store", "bot.api")


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def forbidden_imports(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """The store or API modules ``source`` (the text of ``module``) imports, in any form:
    ``import bot.store``, ``from bot.api.errors import …``, ``from bot import store``,
    relative imports, and ``importlib.import_module`` / ``__import__`` of a literal name."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _forbidden(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module, is_package)
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            found += [name for name in names if _forbidden(name)][:1]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                called in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _forbidden(first.value)
            ):
                found.append(first.value)
    return found


def test_the_front_ends_are_all_found() -> None:
    names = {_module_of(path) for path in FRONT_ENDS}
    assert {"bot.handlers.buy", "bot.views.shop", "bot.keyboards", "bot.webapp.routes"} <= names


@pytest.mark.parametrize("path", FRONT_ENDS, ids=lambda path: _module_of(path))
def test_a_front_end_imports_neither_the_store_nor_the_api_client(path: Path) -> None:
    found = forbidden_imports(
        path.read_text(encoding="utf-8"), _module_of(path), is_package=path.name == "__init__.py"
    )
    assert found == [], f"{_module_of(path)} imports {found}: use bot.services instead"


@pytest.mark.parametrize(
    "source",
    [
        "import bot.store",
        "import bot.api.client as client",
        "from bot.store import Store",
        "from bot.store.console import Tally",
        "from bot.api import errors",
        "from bot import store",
        "from bot import views, api",
        "from ..store import Store",
        "from .. import api",
        "import importlib\nimportlib.import_module('bot.store.models')",
        "def f():\n    from bot.api.models import Order",
    ],
)
def test_every_spelling_of_such_an_import_is_caught(source: str) -> None:
    assert forbidden_imports(source, "bot.handlers.buy") != []


@pytest.mark.parametrize(
    "source",
    [
        "from bot.services.models import Order",
        "from bot.services import errors",
        "from bot import views, keyboards",
        "from . import common",
        "from bot.storefront import x",
    ],
)
def test_the_services_and_the_front_ends_themselves_are_allowed(source: str) -> None:
    assert forbidden_imports(source, "bot.handlers.buy") == []
