"""The bot's HTTP server in process, over the real services: the webhook's secret check,
idle and slowly-sent connections closed, and the operator's endpoints on METRICS_LISTEN."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bot.app import build_bot
from bot.config import Settings
from bot.core import build_services
from bot.health import Health
from bot.metrics import Metrics
from bot.server import WEBHOOK_HEADER, HttpServer
from bot.store import Store
from bot.vault import generate_secret
from tests.e2e.harness import free_port

SECRET = "webhook-secret_0123456789abcdefghijklmn"
Serve = Callable[..., AbstractAsyncContextManager[HttpServer]]


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """``async with serve(metrics=…) as server``: a started server (no Telegram attached)."""

    @asynccontextmanager
    async def run(
        *, metrics: bool = False, idle_timeout: float = 75.0
    ) -> AsyncIterator[HttpServer]:
        settings = Settings(
            telegram_token="123456:TEST",
            data_dir=tmp_path,
            secret_key=generate_secret(),
            webhook_url="https://bot.example/hook",
            webhook_secret=SECRET,
            http_port=free_port(),
            metrics_listen=("127.0.0.1", free_port()) if metrics else None,
        )
        store = await Store.open(tmp_path / "bot.sqlite3")
        counters = Metrics()
        services = build_services(
            settings,
            store,
            build_bot(settings, counters),
            "http://127.0.0.1:9/api",
            metrics=counters,
            health=Health(),
        )
        server = HttpServer(services, idle_timeout=idle_timeout)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
            await services.aclose()
            await store.close()

    return run


def url(server: HttpServer, path: str, *, internal: bool = False) -> str:
    settings = server._services.settings
    host, port = (
        settings.metrics_listen
        if internal and settings.metrics_listen
        else (
            settings.http_host,
            settings.http_port,
        )
    )
    return f"http://{host}:{port}{path}"


async def raw_request(server: HttpServer, head: bytes) -> bytes:
    """Send ``head`` as is; the status line answered."""
    settings = server._services.settings
    reader, writer = await asyncio.open_connection(settings.http_host, settings.http_port)
    try:
        writer.write(head)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()


async def test_the_webhook_secret_is_compared_as_bytes(serve: Serve) -> None:
    async with serve() as server, httpx.AsyncClient() as client:
        hook = url(server, "/hook")
        assert (await client.post(hook, content=b"{}")).status_code == 403
        wrong = {WEBHOOK_HEADER: SECRET[:-1] + "x"}
        assert (await client.post(hook, content=b"{}", headers=wrong)).status_code == 403
        right = {WEBHOOK_HEADER: SECRET}
        # Past the check: no Telegram application attached yet.
        assert (await client.post(hook, content=b"{}", headers=right)).status_code == 503
        for value in (b"\xff\xfe" + SECRET.encode(), SECRET.encode()[:-2] + b"\xc3\xa9"):
            head = (
                b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                + WEBHOOK_HEADER.encode()
                + b": "
                + value
                + b"\r\nConnection: close\r\n\r\n{}"
            )
            assert (await raw_request(server, head)).startswith(b"HTTP/1.1 403"), value


async def connection_closed(server: HttpServer, sent: bytes, within: float) -> bool:
    """Open a connection, send ``sent`` and nothing more; True if the server hangs up."""
    settings = server._services.settings
    reader, writer = await asyncio.open_connection(settings.http_host, settings.http_port)
    try:
        writer.write(sent)
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(), within) == b""
        except TimeoutError:
            return False
    finally:
        writer.close()


async def test_idle_and_trickling_connections_are_closed(serve: Serve) -> None:
    async with serve(idle_timeout=0.5) as server:
        assert await connection_closed(server, b"", within=10)
        assert await connection_closed(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", within=10)


async def test_metrics_listen_moves_the_operator_endpoints(serve: Serve) -> None:
    async with serve() as server, httpx.AsyncClient() as client:
        assert (await client.get(url(server, "/metrics"))).status_code == 200
    async with serve(metrics=True) as server, httpx.AsyncClient() as client:
        for path in ("/metrics", "/healthz"):
            assert (await client.get(url(server, path))).status_code == 404, path
        metrics = await client.get(url(server, "/metrics", internal=True))
        assert metrics.status_code == 200
        assert "jiemabot_" in metrics.text
        health = await client.get(url(server, "/healthz", internal=True))
        assert health.status_code in (200, 503)
        assert "problems" in health.json()
        assert (await client.get(url(server, "/hook", internal=True))).status_code == 404
