"""A bare aiohttp client replaying API reads: the floor the bot's CPU per read is held to.

Run by :mod:`bench.scale_out` as its own process (``python -m bench.bare_reads``), so that
its CPU is its own: it reads a plan from stdin, ``{"reads": [[offset_s, key, url], ...]}``,
sends each ``GET`` at its offset from the start (the bot's own timing, so as many are in
flight at once), reads and parses every JSON answer, and prints
``{"reads": n, "ok": n_200, "cpu_s": CPU seconds from the first read to the last answer}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp


async def replay(plan: list[tuple[float, str, str]]) -> dict[str, Any]:
    ok = 0

    async def read(session: aiohttp.ClientSession, key: str, url: str) -> None:
        nonlocal ok
        async with session.get(url, headers={"Authorization": f"Bearer {key}"}) as response:
            await response.json()
            ok += response.status == 200

    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        cpu = time.process_time()
        tasks = []
        for at, key, url in sorted(plan):
            if (wait := at - (time.monotonic() - started)) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(read(session, key, url)))
        await asyncio.gather(*tasks)
        cpu = time.process_time() - cpu
    return {"reads": len(plan), "ok": ok, "cpu_s": round(cpu, 3)}


def main() -> int:
    plan = [(float(at), str(key), str(url)) for at, key, url in json.load(sys.stdin)["reads"]]
    print(json.dumps(asyncio.run(replay(plan))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
