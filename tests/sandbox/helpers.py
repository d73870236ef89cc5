"""Helpers shared by the sandbox tests."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.sandbox import SandboxServer

MakeServer = Callable[..., Awaitable[SandboxServer]]


@dataclass(slots=True)
class Wait:
    seconds: float
    cancelled: bool = False


@dataclass(slots=True)
class RecordingSleep:
    """``asyncio.sleep`` that remembers each wait and whether it was cut short, so a test
    can check how long the sandbox held an answer without measuring time."""

    waits: list[Wait] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        wait = Wait(seconds)
        self.waits.append(wait)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            wait.cancelled = True
            raise

    def seconds(self) -> list[float]:
        """The waits so far, then forget them."""
        seconds = [wait.seconds for wait in self.waits]
        self.waits.clear()
        return seconds


def client_for(server: SandboxServer, key: str | None, **options: Any) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    options = {"timeout": 5} | options
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, **options)


def data(response: httpx.Response, status: int = 200) -> Any:
    """The ``data`` of a successful answer, checking its envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is True
    return body["data"]


def error_code(response: httpx.Response, status: int) -> str:
    """The ``code`` of an error answer, checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False
    assert set(body) == {"ok", "code", "message"}
    assert body["message"]
    return body["code"]


async def create_order(api: httpx.AsyncClient, service: str = "tg", country: Any = 7) -> Any:
    return data(await api.post("/v1/orders", json={"service": service, "country": country}))
