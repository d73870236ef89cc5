"""The built wheel, installed as an operator would: every language, the version, the playground.

The wheel is built from this checkout (``pip wheel``; the build hook compiles the catalogs
into the package) and installed into a fresh virtual environment from ``requirements.lock``
(hashes checked, as the image installs it), then run from a folder outside the checkout so
nothing of the source tree can be picked up. One test: building and installing is most of
its time, and parallel workers must not each build their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.playground.conftest import free_port_pair

ROOT = Path(__file__).resolve().parents[2]

_CHECK_LANGUAGES = """
import json, sys
import bot
from bot.i18n import LANGUAGES, get_translator
expected = json.loads(sys.argv[1])
got = {code: get_translator(code).gettext(msgid) for code, (msgid, _) in expected.items()}
print(json.dumps({"package": bot.__file__, "languages": sorted(LANGUAGES), "got": got}))
"""


def _samples() -> dict[str, tuple[str, str]]:
    """One translated message of each catalog in ``locales/``: its msgid and msgstr."""
    samples = {}
    for po_path in sorted(ROOT.glob("locales/*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        msgid, msgstr = next(
            (m.id, m.string)
            for m in catalog
            if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
        )
        samples[po_path.parents[1].name] = (msgid, msgstr)
    return samples


def _run(*args: str | Path, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return response.status, response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None


@pytest.mark.timeout(600)
def test_the_wheel_in_a_fresh_venv_speaks_every_language_and_serves_the_playground(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT, cwd=ROOT)
    (wheel,) = dist.glob("jiema_bot-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    lock = ROOT / "requirements.lock"
    _run(python, "-m", "pip", "install", "-q", "--require-hashes", "-r", lock, cwd=tmp_path)
    _run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    away = tmp_path / "elsewhere"  # not the checkout: only the installed package is importable
    away.mkdir()

    samples = _samples()
    report = json.loads(_run(python, "-c", _CHECK_LANGUAGES, json.dumps(samples), cwd=away))
    assert Path(report["package"]).is_relative_to(venv)
    assert report["languages"] == sorted({"en", *samples})
    assert report["got"] == {code: msgstr for code, (_, msgstr) in samples.items()}

    assert _run(python, "-m", "bot", "--version", cwd=away).split() == [
        "jiema-bot",
        version("jiema-bot"),
    ]

    port = free_port_pair()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HTTP_LISTEN": f"127.0.0.1:{port}",
        "BOT_DATA_DIR": str(tmp_path / "data"),
    }
    playground = subprocess.Popen(  # noqa: S603
        [python, "-m", "bot", "--playground"],
        cwd=away,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        page = _get(f"http://127.0.0.1:{port}/")
        while page is None and playground.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            page = _get(f"http://127.0.0.1:{port}/")
        assert page is not None, "the playground did not answer within 60 s"
        status, html = page
        assert status == 200
        assert "<html" in html
        playground.send_signal(signal.SIGTERM)
        output, _ = playground.communicate(timeout=30)
        assert playground.returncode == 0, output
        assert "Traceback" not in output
    finally:
        if playground.poll() is None:
            playground.kill()
            playground.wait()
