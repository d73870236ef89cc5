"""``python -m bot [--sandbox]``: read settings, open the database, run the bot.

With ``--sandbox`` the built-in sandbox API starts on loopback and the bot talks to it: any
made-up key of the right shape (``jm_`` and 20+ letters or digits) gets a $10 account.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from bot import logs
from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.sandbox import SandboxConfig, SandboxServer
from bot.startup import TokenRefusedError, polling_error, wait_for_telegram
from bot.store import Store

log = logging.getLogger("bot")


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then shut down cleanly."""
    async with contextlib.AsyncExitStack() as stack:
        jiema_url = settings.jiema_api_url
        if settings.sandbox:
            sandbox = SandboxServer(SandboxConfig(auto_accounts=True))
            jiema_url = await sandbox.start()
            stack.push_async_callback(sandbox.stop)
            log.info("sandbox API at %s: link any key like jm_ followed by 20+ letters", jiema_url)
        store = await Store.open(settings.database_path)
        stack.push_async_callback(store.close)
        application = build_application(settings, store, jiema_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await wait_for_telegram(application.bot, sleep=asyncio.sleep)
        async with application:
            assert application.post_init is not None and application.updater is not None
            await application.post_init(application)
            await application.updater.start_polling(
                poll_interval=0.0,
                timeout=10,
                drop_pending_updates=False,
                error_callback=polling_error,
            )
            await application.start()
            log.info("bot started")
            await stop.wait()
            log.info("stopping")
            await application.updater.stop()
            await application.stop()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in sandbox API (no money spent)"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(sandbox=args.sandbox)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, (settings.telegram_token,))
    try:
        asyncio.run(serve(settings))
    except TokenRefusedError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
