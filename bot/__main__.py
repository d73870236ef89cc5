"""``python -m bot [--sandbox]``: run the bot; ``python -m bot copy-db --to URL``: migrate.

With ``--sandbox`` the built-in sandbox API starts on loopback and the bot talks to it: any
made-up key of the right shape (``jm_`` and 20+ letters or digits) gets a $10 account.

Start-up order matters: the database and the HTTP server come first (``/healthz`` explains
what is missing while Telegram is not reached yet), then the services, then Telegram; the
same services serve the chat, the webhook and the Mini App.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from bot import logs
from bot.app import ALLOWED_UPDATES, BotApplication, build_application, build_bot, set_commands
from bot.config import ConfigError, Settings
from bot.core import build_services
from bot.health import Health
from bot.sandbox import SandboxConfig, SandboxServer
from bot.server import HttpServer
from bot.store import Store, StoreUnavailableError, open_store

log = logging.getLogger("bot")


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then shut down cleanly (leases handed back)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        jiema_url = settings.jiema_api_url
        if settings.sandbox:
            sandbox = SandboxServer(SandboxConfig(auto_accounts=True))
            jiema_url = await sandbox.start()
            stack.push_async_callback(sandbox.stop)
            log.info("sandbox API at %s: link any key like jm_ followed by 20+ letters", jiema_url)
        store = await open_store(settings.database_url, settings.data_dir)
        stack.push_async_callback(store.close)
        health = Health()
        health.probe("database", _database_probe(store))
        health.problem("telegram", "not connected yet")
        bot = build_bot(settings)
        services = build_services(settings, store, bot, jiema_url, health)
        stack.push_async_callback(services.aclose)
        server = HttpServer(services)
        await server.start()
        stack.push_async_callback(server.stop)
        await bot.initialize()
        health.problem("telegram", None)
        application = build_application(services, bot)
        async with application:
            await set_commands(application)
            updater = application.updater
            if settings.webhook_url is not None:
                server.attach(application)
                await bot.set_webhook(
                    settings.webhook_url,
                    secret_token=settings.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
                log.info("webhook mode: updates arrive at %s", settings.webhook_path)
            elif updater is not None:
                await updater.start_polling(
                    poll_interval=0.0,
                    timeout=10,
                    drop_pending_updates=False,
                    allowed_updates=ALLOWED_UPDATES,
                )
                health.probe("updates", _updater_probe(application))
            await application.start()
            services.poller.start()
            services.alert_watcher.start()
            log.info("bot started (replica %s)", services.replica_id)
            await stop.wait()
            log.info("stopping")
            await services.alert_watcher.stop()
            await services.poller.stop()
            if updater is not None and updater.running:
                await updater.stop()
            await application.stop()


Probe = Callable[[], Awaitable[str | None]]


def _database_probe(store: Store) -> Probe:
    async def probe() -> str | None:
        try:
            await store.ping()
        except StoreUnavailableError as exc:
            return f"database unavailable: {exc}"
        return None

    return probe


def _updater_probe(application: BotApplication) -> Probe:
    async def probe() -> str | None:
        updater = application.updater
        return None if updater is not None and updater.running else "update polling stopped"

    return probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in sandbox API (no money spent)"
    )
    commands = parser.add_subparsers(dest="command")
    copy = commands.add_parser(
        "copy-db", help="copy the SQLite database of BOT_DATA_DIR into an empty PostgreSQL one"
    )
    copy.add_argument("--to", required=True, metavar="postgresql://…", help="target database")
    args = parser.parse_args(argv)
    if args.command == "copy-db":
        from bot.copydb import main as copy_main

        return copy_main(args.to)
    try:
        settings = Settings.from_env(sandbox=args.sandbox)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, (settings.telegram_token, settings.database_url or ""))
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
