"""The shipped ``deploy/nginx.conf``, run by Debian's nginx in front of two replicas.

Two bot replicas on one fresh PostgreSQL database in webhook mode; the strict fake Bot API
delivers updates to nginx's address and the Mini App is served through it, as in
``compose.yaml``. What the configuration must get right: every update handled once, the
live order stream passed on as it is written (not buffered), the internal endpoints closed,
a dead replica skipped, and no query string (a Mini App's initData) in the access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.fakebotapi import FakeBotApi
from bot.sandbox import SandboxServer
from tests.e2e.conftest import buy
from tests.e2e.fleet import (
    WEBHOOK_PATH,
    codes,
    lease_holder,
    link,
    print_logs_if_failed,
    replica_id,
    replicas_behind,
)
from tests.e2e.harness import BotProcess, eventually
from tests.e2e.nginx import Nginx
from tests.monitoring import exposed_metrics, used_metrics
from tests.webapp.initdata import init_data


@dataclass
class Front:
    """Replicas, the nginx in front of them, and their database."""

    replicas: list[BotProcess]
    nginx: Nginx
    database_url: str

    async def lease_holder(self, name: str) -> BotProcess | None:
        """The running replica holding lease ``name``, if any."""
        holder = await lease_holder(self.database_url, name)
        ids = {replica_id(r.log()): r for r in self.replicas}
        return ids.get(holder)


@pytest.fixture
async def front(
    telegram: FakeBotApi, sandbox: SandboxServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Front]:
    def nginx_for(replicas: list[BotProcess]) -> Nginx:
        return Nginx(tmp_path / "nginx", [r.http_url.removeprefix("http://") for r in replicas])

    async with replicas_behind(nginx_for, telegram, sandbox, tmp_path, webapp=True) as (
        replicas,
        nginx,
        url,
    ):
        try:
            yield Front(replicas, nginx, url)
        finally:
            print_logs_if_failed(request, replicas, 10000)
            report = getattr(request.node, "rep_call", None)
            if report is not None and report.failed:
                print("---- nginx error.log ----\n" + nginx.errors()[-5000:])


def served_by(nginx: Nginx, method: str, path: str) -> set[str]:
    """The upstreams nginx passed ``method path`` requests to (from its access log)."""
    return {
        line.rsplit("upstream=", 1)[1]
        for line in nginx.accessed()
        if f'"{method} {path} ' in line and "upstream=" in line
    }


async def test_webhook_updates_through_nginx_are_handled_once_by_both_replicas_and_metered(
    front: Front, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    await buy(user)
    order_id = sandbox.orders(user.key)[0]["id"]
    sandbox.deliver_sms(order_id, "Your code is 481516")
    await user.wait_for_message(lambda m: "Code: 481516" in m.text, timeout=15)
    await telegram.wait_webhook_idle()
    assert codes(user, "481516") == 1
    assert all(d.ok for d in telegram.webhook_deliveries), telegram.webhook_deliveries
    upstreams = {r.http_url.removeprefix("http://") for r in front.replicas}
    assert served_by(front.nginx, "POST", WEBHOOK_PATH) == upstreams
    telegram.assert_no_errors()
    # Prometheus scrapes each replica: every series the dashboard and the alerts read is
    # there on each (declared), and has samples in the fleet after a purchase and a code.
    used, sampled = used_metrics(), {"up"}
    for replica in front.replicas:
        exposition = (await replica.get("/metrics")).text
        missing = used - exposed_metrics(exposition)
        assert not missing, f"{replica.http_url} does not expose {sorted(missing)}"
        sampled |= {s.name for f in text_string_to_metric_families(exposition) for s in f.samples}
    assert used <= sampled, f"no samples of {sorted(used - sampled)}"


@dataclass
class Stream:
    """A live order stream read in the background: the codes of each ``order`` event."""

    url: str
    seen: list[list[str]] = field(default_factory=list)
    status: int | None = None

    async def read(self, client: httpx.AsyncClient, init_data: str) -> None:
        # As the page reads it: initData in the Authorization header, never in the URL.
        headers = {"Accept": "text/event-stream", "Authorization": f"tma {init_data}"}
        async with client.stream("GET", self.url, headers=headers) as response:
            self.status = response.status_code
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "order":
                    self.seen.append([c["code"] for c in json.loads(line[6:])["codes"]])

    def shows(self, code: str) -> bool:
        return any(code in found for found in self.seen)


async def test_the_live_stream_through_nginx_shows_a_code_as_the_replicas_do(
    front: Front, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    await buy(user)
    order_id = sandbox.orders(user.key)[0]["id"]
    path = f"/app/api/orders/{order_id}/events"
    signed = init_data(user.id, int(time.time()), token=telegram.token)
    # One stream straight from each replica, one through nginx (to whichever is next).
    direct = [Stream(r.http_url + path) for r in front.replicas]
    proxied = Stream(front.nginx.url + path)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client:
        readers = [asyncio.create_task(s.read(client, signed)) for s in (*direct, proxied)]
        try:
            await eventually(
                lambda: all(s.seen for s in (*direct, proxied)), what="every stream's first event"
            )
            sandbox.deliver_sms(order_id, "Your code is 112358")
            await eventually(
                lambda: all(s.shows("112358") for s in direct), within=15, what="replicas see it"
            )
            # Unbuffered, nginx passes the event on as the replica writes it: at most one of
            # the replica's database reads (0.4 s) later than the direct streams.
            await eventually(lambda: proxied.shows("112358"), within=1.0, what="through nginx")
        finally:
            for reader in readers:
                reader.cancel()
            for reader in readers:
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    assert proxied.status == 200


async def test_health_and_metrics_are_not_reachable_through_nginx(front: Front) -> None:
    async with httpx.AsyncClient() as client:
        for path in ("/healthz", "/metrics"):
            assert (await client.get(front.nginx.url + path)).status_code == 404
            assert (await client.get(front.replicas[0].http_url + path)).status_code == 200
        page = await client.get(front.nginx.url + "/app/")
        assert page.status_code == 200


async def test_no_query_string_reaches_nginx_access_log(front: Front) -> None:
    secret = "initdata-secret-4f1c"
    async with httpx.AsyncClient() as client:
        for path in ("/app/api/session", "/app/api/orders/x/events", "/app/"):
            await client.get(front.nginx.url + path, params={"initData": secret})
    await eventually(
        lambda: sum("/app/" in line for line in front.nginx.accessed()) >= 3, what="logged"
    )
    log = front.nginx.access_log.read_text()
    assert '"GET /app/api/session HTTP/1.1" 401' in log
    assert secret not in log
    assert "initData" not in log


async def test_a_replica_killed_behind_nginx_costs_nothing(
    front: Front, telegram: FakeBotApi, sandbox: SandboxServer
) -> None:
    user = await link(telegram, sandbox)
    await buy(user)
    name = f"poll:{user.id}"
    victim: BotProcess | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while victim is None:
        assert loop.time() < deadline, f"no replica holds {name}"
        victim = await front.lease_holder(name)
        await asyncio.sleep(0.05)
    await victim.kill()
    order_id = sandbox.orders(user.key)[0]["id"]
    sandbox.deliver_sms(order_id, "Your code is 271828")
    # Updates keep coming while nginx still counts the dead replica in its round.
    for _ in range(4):
        await user.send("/balance")
        await user.wait_for_message(lambda m: "Balance:" in m.text, timeout=15)
    await eventually(lambda: codes(user, "271828") > 0, within=20, what="the code in the chat")
    await telegram.wait_webhook_idle()
    assert "connect() failed" in front.nginx.errors(), "nginx tried the dead replica"
    assert codes(user, "271828") == 1
    failed = [d for d in telegram.webhook_deliveries if not d.ok]
    assert failed == [], f"nginx answered Telegram with an error: {failed}"
    survivor = next(r for r in front.replicas if r is not victim)
    assert served_by(front.nginx, "POST", WEBHOOK_PATH) >= {
        survivor.http_url.removeprefix("http://")
    }
