"""Debian's nginx running the shipped ``deploy/nginx.conf`` on loopback, in a temp dir.

The shipped file is what an operator puts in ``conf.d/``; only what must differ here is
substituted: the upstream servers (the replicas' addresses), the listen port (loopback, a
free one) and the access log's folder. The ``nginx.conf`` around it (pid file, error log,
temp folders) is the minimal main file any nginx has.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

from tests.e2e.harness import ROOT, free_port
from tests.tools import require_executable

SHIPPED = ROOT / "deploy" / "nginx.conf"
_SERVER = re.compile(r"^(\s*server )bot\d+:8080\b", re.MULTILINE)


def site_config(shipped: str, upstreams: list[str], port: int, logs: Path) -> str:
    """The shipped site with its upstreams, listen port and log folder replaced."""
    servers = iter(upstreams)
    text, count = _SERVER.subn(lambda m: m.group(1) + next(servers), shipped)
    if count != len(upstreams):
        raise AssertionError(
            f"deploy/nginx.conf has {count} upstream servers, not {len(upstreams)}"
        )
    text, listens = re.subn(r"^(\s*)listen 8443;", rf"\1listen 127.0.0.1:{port};", text, flags=re.M)
    assert listens == 1, "deploy/nginx.conf listens on 8443"
    return text.replace("/var/log/nginx/", f"{logs}/")


class Nginx:
    """``nginx`` in the foreground with the shipped site in front of ``upstreams``.

    Args:
        folder: Holds the configuration, the pid file, the logs and the temp folders.
        upstreams: ``host:port`` of each replica, in the order of the shipped servers.
    """

    def __init__(self, folder: Path, upstreams: list[str]) -> None:
        self.folder = folder
        self.upstreams = upstreams
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        self.process: asyncio.subprocess.Process | None = None

    def _write_config(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        site = self.folder / "site.conf"
        site.write_text(site_config(SHIPPED.read_text(), self.upstreams, self.port, self.folder))
        # As root, nginx's workers would run as nobody, who cannot enter pytest's temp dir.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {kind}_temp_path {self.folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        main = self.folder / "nginx.conf"
        main.write_text(
            f"{user}worker_processes 1;\n"
            f"pid {self.folder / 'nginx.pid'};\n"
            f"error_log {self.error_log} info;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            f"{temp}\n"
            f"    include {site};\n"
            "}\n"
        )
        return main

    async def start(self) -> str:
        """Check the configuration (``nginx -t``), start nginx, wait until it listens."""
        nginx = require_executable("nginx")
        main = self._write_config()
        command = [nginx, "-p", f"{self.folder}/", "-c", str(main), "-e", str(self.error_log)]
        check = await asyncio.create_subprocess_exec(
            *command, "-t", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await check.communicate()
        assert check.returncode == 0, f"nginx -t refused the configuration:\n{output.decode()}"
        self.process = await asyncio.create_subprocess_exec(
            *command, "-g", "daemon off;", stdin=asyncio.subprocess.DEVNULL
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if self.process.returncode is not None or loop.time() > deadline:
                    raise AssertionError(f"nginx did not listen:\n{self.errors()}") from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            return self.url

    async def stop(self) -> None:
        """Fast shutdown (SIGTERM), as ``nginx -s stop`` does."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def accessed(self) -> list[str]:
        """The access log's lines so far."""
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def errors(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""
