"""``python -m bot.sandbox`` runs the sandbox on its own."""

import asyncio
import sys

import httpx

from tests.sandbox.helpers import data


async def test_standalone_server_prints_its_url_and_serves() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.sandbox", "--port", "0", "--auto-accounts",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        base_url = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/api")
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
            headers = {"X-API-Key": "jm_" + "z" * 30}
            account = data(await client.get("/v1/account", headers=headers))
            assert account["balanceCents"] == "1000"
    finally:
        process.terminate()
        await process.wait()
