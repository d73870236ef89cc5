"""``python -m bot [--sandbox | --playground]``: run; ``python -m bot copy-db --to URL``;
``python -m bot reset-secret --erase-keys`` after losing the encryption secret.

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
import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Final

import uvloop
from telegram import Bot

from bot import logs
from bot.app import ALLOWED_UPDATES, BotApplication, build_application, build_bot
from bot.commands import set_commands, set_menu_button
from bot.config import ConfigError, Settings
from bot.core import Services, build_services
from bot.handlers.admin import set_admin_menus
from bot.health import DATABASE, Health
from bot.i18n import get_translator
from bot.metrics import Metrics
from bot.sandbox import SandboxConfig, SandboxServer
from bot.server import HttpServer
from bot.services.accounts import SecretMismatchError
from bot.startup import TokenRefusedError, polling_error, wait_for_telegram
from bot.store import Store, StoreUnavailableError, open_store

POLL_PAUSE: Final = 0.02
"""Seconds between two ``getUpdates`` calls in long-polling mode.

A call that finds updates waiting returns at once, so with no pause a busy bot fetches them
about one per call, each call costing as much as a message sent. With 20 ms, a busy bot
takes them in batches and an idle one still gets each update the moment it comes (the long
poll is answered at once); an update that comes during the pause waits for it. Measured in
``bench.throughput``, three interleaved pairs: 5-27 % less CPU per update.
"""

log = logging.getLogger("bot")


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or until ``stop`` is set, when given), then shut down
    cleanly (leases handed back).

    A signal during start-up (Telegram unreachable, a slow database) cancels the start-up at
    once: what has started is closed in reverse order and the exit is clean, so
    ``docker stop`` never waits out its grace period. The tests' in-process harness passes
    its own ``stop`` and runs this in the test's event loop (no signal handlers then).
    """
    started = asyncio.Event()
    serving = asyncio.current_task()
    if stop is None:
        stop = asyncio.Event()
        signalled = stop

        def request_stop() -> None:
            if signalled.is_set():
                return
            signalled.set()
            if not started.is_set() and serving is not None:
                serving.cancel()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop)
    try:
        await _serve(settings, stop, started)
    except asyncio.CancelledError:
        if not stop.is_set() or started.is_set():
            raise
        if serving is not None:
            serving.uncancel()
        log.info("stopped during start-up")


async def _serve(settings: Settings, stop: asyncio.Event, started: asyncio.Event) -> None:
    """Start everything, set ``started``, serve until ``stop``, then stop in order."""
    async with contextlib.AsyncExitStack() as stack:
        jiema_url = settings.jiema_api_url
        if settings.sandbox:
            sandbox = SandboxServer(SandboxConfig(auto_accounts=True).with_trouble())
            jiema_url = await sandbox.start()
            stack.push_async_callback(sandbox.stop)
            log.info("sandbox API at %s: link any key like jm_ followed by 20+ letters", jiema_url)
        store = await open_store(settings.database_url, settings.data_dir)
        stack.push_async_callback(store.close)
        health = Health()
        health.probe(DATABASE, _database_probe(store))
        health.problem("telegram", "not connected yet")
        metrics = Metrics()
        bot = build_bot(settings, metrics)
        services = build_services(settings, store, bot, jiema_url, metrics=metrics, health=health)
        stack.push_async_callback(services.aclose)
        logs.set_replica(services.replica_id)
        await services.accounts.check_secret()  # before anything reads a key
        server = HttpServer(services)
        await server.start()
        stack.push_async_callback(server.stop)
        await services.outbox.reclaim_own()

        def unreachable(reason: str, delay: float) -> None:
            health.problem("telegram", f"unreachable ({reason}); retrying in {delay:g} s")

        # Healthy only once updates are served: a balancer's health check must not send
        # webhook updates here while the application is still being attached (503).
        health.problem("startup", "not serving updates yet")
        await wait_for_telegram(bot, on_retry=unreachable, sleep=asyncio.sleep)
        await bot.initialize()
        health.problem("telegram", None)
        application = build_application(services, bot)
        async with application:
            await set_commands(bot)
            await set_admin_menus(bot, services)
            await set_menu_button(bot, settings.webapp_url, get_translator("en"))
            updater = application.updater
            if settings.webhook_url is not None:
                server.attach(application)
                await _register_webhook(services, bot)
                log.info("webhook mode: updates arrive at %s", settings.webhook_path)
            elif updater is not None:
                await updater.start_polling(
                    poll_interval=POLL_PAUSE,
                    timeout=10,
                    drop_pending_updates=False,
                    allowed_updates=ALLOWED_UPDATES,
                    error_callback=polling_error,
                )
                health.probe("updates", _updater_probe(application))
            await application.start()
            services.poller.start()
            services.chores.start()
            services.start_console()
            services.alert_watcher.start()
            services.replacer.start()
            health.problem("startup", None)
            started.set()
            log.info("bot started (replica %s)", services.replica_id)
            await stop.wait()
            log.info("stopping")
            await services.alert_watcher.stop()
            await services.replacer.stop()
            await services.poller.stop()
            await services.chores.stop()
            await services.broadcaster.stop()
            if updater is not None and updater.running:
                await updater.stop()
            await application.stop()


async def _erase_keys(settings: Settings) -> int:
    store = await open_store(settings.database_url, settings.data_dir)
    try:
        return await store.erase_keys()
    finally:
        await store.close()


WEBHOOK_LEASE = "job:set-webhook"
"""Replicas starting together register the webhook once (Telegram allows one call a second)."""


async def _register_webhook(services: Services, bot: Bot) -> None:
    """``setWebhook`` with the secret and the update kinds we handle, by one replica a minute.

    Every replica serves the same URL, so one registration is enough; the others would only
    meet Telegram's flood limit on ``setWebhook``.
    """
    settings = services.settings
    if not await services.store.acquire_lease(
        WEBHOOK_LEASE, services.replica_id, timedelta(minutes=1)
    ):
        log.info("webhook registered by another replica")
        return
    assert settings.webhook_url is not None
    await bot.set_webhook(
        settings.webhook_url,
        secret_token=settings.webhook_secret,
        allowed_updates=ALLOWED_UPDATES,
    )


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


def playground() -> int:
    """``--playground``: no token needed; the web chat on ``HTTP_LISTEN``."""
    from bot.config import listen_address
    from bot.playground import PlaygroundError, run_playground

    try:
        listen = listen_address(os.environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(os.environ.get("LOG_LEVEL", "INFO").upper() or "INFO", ())
    # Its own folder: the playground resets its database at each start, and must never
    # touch a real deployment's.
    data_dir = Path(os.environ.get("BOT_DATA_DIR", "").strip() or "data") / "playground"

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_playground(listen, data_dir, stop)

    try:
        asyncio.run(run())
    except PlaygroundError as exc:
        print(f"playground: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="The jiema.my Telegram bot: SMS-verification numbers from a chat.",
    )
    parser.add_argument("--version", action="version", version=f"jiema-bot {version('jiema-bot')}")
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in sandbox API (no money spent)"
    )
    parser.add_argument(
        "--playground",
        action="store_true",
        help="try the bot in your browser: sandbox API, a local Telegram and a web chat",
    )
    commands = parser.add_subparsers(dest="command")
    copy = commands.add_parser(
        "copy-db", help="copy the SQLite database of BOT_DATA_DIR into an empty PostgreSQL one"
    )
    copy.add_argument("--to", required=True, metavar="postgresql://…", help="target database")
    reset = commands.add_parser(
        "reset-secret",
        help="the encryption secret is lost for good: erase every stored key (users link "
        "theirs again) so the bot starts with the current BOT_SECRET_KEY",
    )
    reset.add_argument(
        "--erase-keys", action="store_true", required=True, help="yes, erase every stored key"
    )
    args = parser.parse_args(argv)
    if args.playground:
        return playground()
    if args.command == "copy-db":
        from bot.copydb import main as copy_main

        return copy_main(args.to)
    try:
        settings = Settings.from_env(sandbox=args.sandbox)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "reset-secret":
        erased = asyncio.run(_erase_keys(settings))
        print(
            f"erased {erased} stored keys: their owners will be asked to link them again; "
            "the next start records the current BOT_SECRET_KEY"
        )
        return 0
    logs.configure(
        settings.log_level,
        logs.secrets_of(settings),
        log_format=settings.log_format,
        user_key=settings.telegram_token.encode(),
    )
    _tune_gc()
    try:
        # uvloop: the event loop in C, a quarter less CPU per API read (README, "Performance").
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(settings))
    except TokenRefusedError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SecretMismatchError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


_GC_THRESHOLDS = (50_000, 20, 10)
"""Allocations between young collections (Python's default: 700), then its defaults."""


def _tune_gc() -> None:
    """Collect cyclic garbage less often, and never scan what was loaded at start.

    The bot allocates fast and most of what it allocates (an update's objects, a request's)
    lives for a few awaits: with Python's thresholds it survives into the older
    generations and is scanned again and again. Measured in ``bench.throughput`` (a
    ``gc.callbacks`` timer): the collector took 7 % of the bot's CPU with the defaults
    (2.4 s of 34 s; each full collection ~80 ms), 0.2 % with these (0.06 s of 32 s). Frozen
    objects (the modules, PTB's and Babel's data) are never scanned again, which also
    shortens the pause of a full collection.
    """
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


if __name__ == "__main__":
    sys.exit(main())
