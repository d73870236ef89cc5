"""Every request is reported to the metrics hook: method, endpoint template, status."""

from __future__ import annotations

import contextlib

from bot.api import ApiKey, JiemaClient
from bot.api.errors import NotFoundError
from bot.sandbox import SandboxServer
from tests.api.helpers import FAST_RETRY


async def test_requests_are_observed_by_endpoint_template_never_by_key(
    server: SandboxServer, key: ApiKey
) -> None:
    seen: list[tuple[str, str, str]] = []
    async with JiemaClient(
        server.base_url, retry=FAST_RETRY, observe=lambda *o: seen.append(o)
    ) as client:
        await client.account(key)
        offers = [p for p in await client.prices(key, "tg") if p.count > 0]
        order = await client.create_order(key, "tg", offers[0].country_id)
        await client.order(key, order.id)
        await client.cancel_order(key, order.id)
        with contextlib.suppress(NotFoundError):
            await client.order(key, "no-such-order")
    assert seen == [
        ("GET", "v1/account", "200"),
        ("GET", "v1/prices", "200"),
        ("POST", "v1/orders", "200"),
        ("GET", "v1/orders/:id", "200"),
        ("POST", "v1/orders/:id/cancel", "200"),
        ("GET", "v1/orders/:id", "404"),
    ]
    assert not any(key.secret in part for entry in seen for part in entry)
