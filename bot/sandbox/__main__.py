"""``python -m bot.sandbox``: run the sandbox API on its own until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import SandboxServer


def _delay(text: str) -> float | None:
    return None if text == "never" else float(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox", description="Run a fake jiema.my API on this machine."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--sms-delay",
        type=_delay,
        default=15.0,
        help="seconds until an order's SMS arrives, or 'never' (default: 15)",
    )
    parser.add_argument("--order-ttl", type=float, default=1200.0, help="order lifetime (s)")
    parser.add_argument("--seed", type=int, default=1, help="catalogue and id seed")
    parser.add_argument(
        "--auto-accounts",
        action="store_true",
        help="give any unknown well-formed jm_ key a new account with $10.00",
    )
    parser.add_argument(
        "--trouble",
        action="store_true",
        help="some countries never deliver, one is slow, one's price rises with every sale",
    )
    args = parser.parse_args(argv)
    config = SandboxConfig(
        seed=args.seed,
        sms_delay=args.sms_delay,
        order_ttl=args.order_ttl,
        auto_accounts=args.auto_accounts,
    )
    if args.trouble:
        config = config.with_trouble()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, args.host, args.port))


async def _serve(config: SandboxConfig, host: str, port: int) -> None:
    server = SandboxServer(config)
    base_url = await server.start(host, port)
    key = server.create_account(balance_cents=2500)
    # The first line is the base URL alone, for scripts.
    print(base_url)
    print(f"# controls: {server.control_url}")
    print(f"# demo key with $25.00: {key}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    main()
