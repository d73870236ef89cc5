"""The page and its assets, read once, with caching and security headers.

Asset URLs in ``index.html`` carry their hash (``app.js?v=…``), so a versioned request is
cached for good and a new release still changes them; the page itself is revalidated
(``ETag`` / ``If-None-Match``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"

_TYPES: Final = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".txt": "text/plain",
    ".png": "image/png",
}
ASSETS: Final = ("app.css", "app.js", "vendor/telegram-web-app.js")
_IMMUTABLE: Final = "public, max-age=31536000, immutable"
_SECURITY: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'"
    ),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    etag: str
    content_type: str


def _file(body: bytes, suffix: str) -> _File:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return _File(body, f'"{digest}"', _TYPES.get(suffix, "application/octet-stream"))


def load_page(static_dir: Path = STATIC_DIR) -> dict[str, _File]:
    """The page's files by URL name ("" is ``index.html``), with versioned asset URLs."""
    files = {name: _file((static_dir / name).read_bytes(), Path(name).suffix) for name in ASSETS}
    html = (static_dir / "index.html").read_text("utf-8")
    for name in ASSETS:
        html = html.replace(f'"{name}"', f'"{name}?v={files[name].etag.strip(chr(34))}"')
    files[""] = _file(html.encode(), ".html")
    return files


def static_handler(files: dict[str, _File]) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "")
        found = files.get(name)
        if found is None:
            raise web.HTTPNotFound
        versioned = name != "" and request.query.get("v") == found.etag.strip('"')
        headers = {
            **_SECURITY,
            "ETag": found.etag,
            "Cache-Control": _IMMUTABLE if versioned else "no-cache",
        }
        if request.headers.get("If-None-Match") == found.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=found.body, content_type=found.content_type, headers=headers)

    return serve


def redirect(location: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(location)

    return handle


def add_page(router: web.UrlDispatcher, prefix: str) -> None:
    """Serve the page at ``<prefix>/`` (``<prefix>`` redirects there) and its assets."""
    serve = static_handler(load_page())
    router.add_get(f"{prefix}", redirect(f"{prefix}/"))
    router.add_get(f"{prefix}/", serve)
    router.add_get(f"{prefix}/{{name:app\\.css|app\\.js|vendor/telegram-web-app\\.js}}", serve)
