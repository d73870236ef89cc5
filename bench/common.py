"""Shared pieces of the benchmarks: the fakes, the bot process, bulk seeding, /proc readings.

Everything runs on 127.0.0.1: the sandbox jiema API and the strict fake Telegram Bot API run
in the benchmark's own process (one event loop), the bot runs as a subprocess exactly as it
is deployed (``python -m bot``), configured through its environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.copydb import copy_database
from bot.fakebotapi import FakeBotApi, FloodLimits, RequestRecord
from bot.fakebotapi.flood import DEFAULT_FLOOD_LIMITS
from bot.sandbox import SandboxConfig, SandboxServer
from bot.sandbox.engine import FINAL_STATUSES
from bot.sandbox.wire import order_json
from bot.store import Store, open_store
from bot.store.store import SQLITE_FILE
from bot.vault import KeyVault, load_or_create_secret

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH"
WEBHOOK_SECRET = "bench-webhook-secret_0123456789abcdefghij"
"""``WEBHOOK_SECRET`` of bots in webhook mode."""
_DEPLOYMENT_PREFIXES = (
    "TELEGRAM_",
    "JIEMA_",
    "BOT_",
    "POLL_",
    "LOG_",
    "DATABASE_",
    "WEBHOOK_",
    "HTTP_",
)
"""Environment variables of the bot not inherited from the benchmark's own environment."""
_CLK_TCK = os.sysconf("SC_CLK_TCK")

# -- command line and output ---------------------------------------------------------------


def parse_args(
    description: str | None,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """``--quick`` (short smoke run), ``--json PATH`` (write the figures), ``--keep``, and
    whatever ``extra`` adds."""
    parser = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(parser)
    parser.add_argument("--quick", action="store_true", help="short smoke run (small sizes)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the bot's data dir and log (path printed)"
    )
    return parser.parse_args(argv)


def run_benchmark(
    name: str,
    title: str,
    doc: str | None,
    argv: Sequence[str] | None,
    run: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
    report: Callable[[dict[str, Any]], tuple[bool, str]],
    *,
    limit: float,
    profile_help: str | None = None,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """The one command of a benchmark: options, header, a bounded run, figures, verdict.

    Args:
        name: Short name for the verdict line and the JSON file.
        title: Printed first.
        doc: The module docstring; its first line describes the command.
        argv: Command-line arguments (None: ``sys.argv``).
        run: The measurement, given the parsed options.
        report: Prints the figures; returns (targets met, verdict).
        limit: Seconds after which the run is abandoned.
        profile_help: Adds ``--profile`` with this help text.
        options: Adds the benchmark's own options.
    """

    def extra(parser: argparse.ArgumentParser) -> None:
        if options is not None:
            options(parser)
        if profile_help is not None:
            parser.add_argument("--profile", action="store_true", help=profile_help)

    args = parse_args(doc.splitlines()[0] if doc else None, argv, extra)
    header(title, args.quick)
    results = asyncio.run(asyncio.wait_for(run(args), limit))
    met, verdict = report(results)
    return finish(name, results, met, verdict, args.json)


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def header(title: str, quick: bool) -> None:
    """The first lines every benchmark prints."""
    info = machine()
    mode = "quick smoke run" if quick else "full run"
    print(f"== {title} ({mode}) ==")
    print(f"   {info['nproc']} cores, {info['cpu']}, Python {info['python']}, {info['date']}")


def finish(name: str, results: dict[str, Any], met: bool, verdict: str, path: Path | None) -> int:
    """Print the one-line verdict, write the JSON if asked; the process exit code (0 = met)."""
    print(f"VERDICT {name}: {'MET' if met else 'NOT MET'} - {verdict}")
    if path is not None:
        payload = {"benchmark": name, "machine": machine(), "met": met, "verdict": verdict}
        payload["results"] = results
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if met else 1


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextlib.contextmanager
def workdir(keep: bool) -> Any:
    """A temporary directory for the bot's data; kept (and named) with ``--keep``."""
    path = Path(tempfile.mkdtemp(prefix="jiema-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"   data and bot log kept in {path}")
        else:
            for item in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                item.unlink() if not item.is_dir() else item.rmdir()
            path.rmdir()


# -- /proc -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One reading of a process: CPU seconds so far (user + system), RSS and peak RSS."""

    cpu_seconds: float
    rss_mb: float
    peak_rss_mb: float


def proc_sample(pid: int | str = "self") -> ProcSample:
    """Read ``/proc/<pid>/stat`` (utime + stime) and ``/proc/<pid>/status`` (VmRSS, VmHWM)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14, 15)
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            memory[name] = int(value.split()[0]) / 1024
    return ProcSample(cpu, memory.get("VmRSS", math.nan), memory.get("VmHWM", math.nan))


# -- the fakes -------------------------------------------------------------------------------


class ShiftedClock:
    """``time.time()`` plus an adjustable offset: lets setup create orders "in the past"."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@contextlib.asynccontextmanager
async def fakes(
    *,
    flood: FloodLimits | None = DEFAULT_FLOOD_LIMITS,
    sandbox_config: SandboxConfig | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[tuple[SandboxServer, FakeBotApi]]:
    """The sandbox API (SMS only when the benchmark says) and the fake Bot API, started."""
    sandbox = SandboxServer(sandbox_config or SandboxConfig(sms_delay=None), clock=clock)
    telegram = FakeBotApi(token=TOKEN, bot_username="jiema_bench_bot", flood=flood)
    await sandbox.start()
    await telegram.start()
    try:
        yield sandbox, telegram
    finally:
        await telegram.stop()
        await sandbox.stop()


def create_orders(
    sandbox: SandboxServer,
    key: str,
    count: int,
    rng: random.Random,
    *,
    clock: ShiftedClock | None = None,
    max_age: float = 0.0,
) -> list[dict[str, Any]]:
    """``count`` orders made directly in the sandbox engine, as the API shows them.

    Services and countries are drawn from the popular part of the catalogue. With ``clock``
    (the sandbox's) each order is created up to ``max_age`` seconds in the past, so orders
    do not all expire, or step their countdown, at the same moment.
    """
    engine = sandbox.engine
    account = engine.account_of_key(key)
    services = engine.catalogue.services[:40]
    made = []
    for _ in range(count):
        service = rng.choice(services)
        offers = [o for o in engine.catalogue.offers(service) if o.stock > 0]
        offer = rng.choice(offers)
        if clock is not None:
            clock.offset = -rng.uniform(0.0, max_age)
        try:
            made.append(order_json(engine.create_order(account, service.code, offer.country_id)))
        finally:
            if clock is not None:
                clock.offset = 0.0
    return made


# -- seeding the bot's database --------------------------------------------------------------


@dataclass(slots=True)
class SeedUser:
    """A bot user to write into SQLite before the bot starts.

    Attributes:
        user_id: Telegram id (also the private chat id).
        key: The linked jiema API key (stored encrypted, as the bot does), or None.
        orders: Orders as the API shows them (:func:`create_orders`).
        language: The chosen interface language.
        dialog: The chat state (``users.dialog``) earlier conversations left behind.
    """

    user_id: int
    key: str | None = None
    orders: Sequence[Mapping[str, Any]] = ()
    language: str | None = "en"
    dialog: Mapping[str, Any] | None = None


def _iso(moment: datetime) -> str:
    """The store's time format: ISO-8601 UTC with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _api_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def seed_bulk(
    data_dir: Path,
    users: Sequence[SeedUser],
    *,
    database_url: str | None = None,
    secret: str | None = None,
) -> float:
    """Write users, their encrypted keys, orders and chat state; optionally copy to PostgreSQL.

    The schema comes from the bot's own migrations (``Store.open``); keys are encrypted with
    the bot's vault and the deployment's secret (``secret``, i.e. ``BOT_SECRET_KEY``, else
    ``data_dir/secret.key``), so the bot reads them as its own. The rows match what
    ``Store.ensure_user``/``set_key``/``save_order``/``set_dialog`` write, in one SQLite
    transaction; this is only faster (10,000 users in about a second instead of one
    transaction per row). With ``database_url`` (an empty PostgreSQL database) the SQLite
    file is then copied there by the bot's own ``copy-db`` (:func:`bot.copydb.copy_database`),
    as an operator moving to PostgreSQL would.

    Returns:
        Seconds it took.
    """
    started = time.perf_counter()
    path = data_dir / SQLITE_FILE
    store = await Store.open(path)
    await store.close()
    vault = KeyVault.from_secret(secret or load_or_create_secret(data_dir))
    now = _iso(datetime.now(UTC))
    user_rows, order_rows = [], []
    for user in users:
        cipher = fingerprint = None
        if user.key is not None:
            cipher = vault.encrypt(user.user_id, user.key)
            fingerprint = vault.fingerprint(user.key)
        dialog = None
        if user.dialog:
            dialog = json.dumps(dict(user.dialog), ensure_ascii=False, separators=(",", ":"))
        user_rows.append((user.user_id, user.language, cipher, fingerprint, dialog, now, now))
        for order in user.orders:
            final = order["status"] in FINAL_STATUSES
            order_rows.append(
                (
                    order["id"],
                    user.user_id,
                    fingerprint or "",
                    order["service"],
                    order["service"],
                    str(order["country"]),
                    "",
                    order["phone"],
                    order["status"],
                    _iso(_api_time(order["expiresAt"])),
                    int(order["chargedCents"]),
                    len(order["smsHistory"]),
                    int(final),
                    _iso(_api_time(order["createdAt"])),
                    now,
                )
            )
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executemany(
            "INSERT INTO users (telegram_id, language, key_cipher, key_fingerprint, dialog,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            user_rows,
        )
        db.executemany(
            "INSERT INTO orders (id, user_id, key_fingerprint, service, service_name,"
            " country_id, country_slug, phone, status, expires_at, charged_cents,"
            " sms_seen, final_notified, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            order_rows,
        )
    if database_url is not None:
        await copy_database(path, database_url)
    store = await open_store(database_url, data_dir)  # the bot's own reader must see it all
    try:
        assert await store.users_count() == len(users)
    finally:
        await store.close()
    return time.perf_counter() - started


def free_port() -> int:
    """A TCP port free on loopback right now (for a bot process's ``HTTP_LISTEN``)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the bot process -------------------------------------------------------------------------


class BotRun:
    """One bot subprocess against the fakes, its CPU and memory read from ``/proc``.

    Every process gets its own ``HTTP_LISTEN`` port (the default 8080 would collide between
    replicas and with anything else on the machine), so its ``/healthz`` and ``/metrics``
    can be read and, in webhook mode, a balancer can forward updates to it.

    Args:
        telegram: The fake Bot API (its URL and token go into the environment).
        jiema_url: The sandbox API's base URL.
        data_dir: ``BOT_DATA_DIR``; the log goes beside it.
        module: What ``python -m`` runs: ``bot`` (the deployment) or a bench wrapper.
        poll_interval: ``POLL_INTERVAL`` (the deployment's default is 3 s).
        database_url: ``DATABASE_URL`` (PostgreSQL); None for SQLite in ``data_dir``.
        secret: ``BOT_SECRET_KEY`` (required with ``database_url``).
        webhook_url: ``WEBHOOK_URL``, with ``WEBHOOK_SECRET`` = :data:`WEBHOOK_SECRET`; None
            for long polling. May be set later through :attr:`env`, before :meth:`start`.
        name: Names the log file (replicas of one run need distinct names).
        env: More environment variables.
    """

    def __init__(
        self,
        telegram: FakeBotApi,
        jiema_url: str,
        data_dir: Path,
        *,
        module: str = "bot",
        poll_interval: float = 3.0,
        database_url: str | None = None,
        secret: str | None = None,
        webhook_url: str | None = None,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.telegram = telegram
        self.data_dir = data_dir
        self.module = module
        self.log_path = data_dir.parent / f"{name or module.replace('.', '_')}.log"
        self.http_url = f"http://127.0.0.1:{free_port()}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_DEPLOYMENT_PREFIXES)}
        deployment = {}
        if database_url is not None:
            deployment["DATABASE_URL"] = database_url
        if secret is not None:
            deployment["BOT_SECRET_KEY"] = secret
        if webhook_url is not None:
            deployment |= {"WEBHOOK_URL": webhook_url, "WEBHOOK_SECRET": WEBHOOK_SECRET}
        self.env = {
            **inherited,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.root,
            "JIEMA_API_URL": jiema_url,
            "BOT_DATA_DIR": str(data_dir),
            "POLL_INTERVAL": str(poll_interval),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "HTTP_LISTEN": self.http_url.removeprefix("http://"),
            **deployment,
            **(env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.spawned_at = math.nan

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def webhook(self) -> bool:
        """Whether the process runs in webhook mode (``WEBHOOK_URL`` set)."""
        return bool(self.env.get("WEBHOOK_URL"))

    async def start(self, within: float = 60.0) -> float:
        """Start the process and wait until it is live.

        Long polling: until its first ``deleteWebhook``/``getUpdates`` reaches the fake.
        Webhook mode: until its ``/healthz`` answers 200 (nothing asks for updates then).

        Returns:
            Seconds from just before ``exec`` until then.
        """
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[float] = loop.create_future()

        def listener(record: RequestRecord) -> None:
            if record.method in ("deleteWebhook", "getUpdates") and not ready.done():
                ready.set_result(record.received_at)

        unsubscribe = self.telegram.subscribe(listener)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.log_path.open("ab") as log:
                self.spawned_at = time.time()
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    self.module,
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=log,
                    stdin=asyncio.subprocess.DEVNULL,
                )
            waiting = self.healthy() if self.webhook else ready
            try:
                first = await asyncio.wait_for(waiting, within)
            except TimeoutError:
                raise RuntimeError(
                    f"{self.module} was not live within {within} s\n{self.log()[-3000:]}"
                ) from None
        finally:
            unsubscribe()
        return first - self.spawned_at

    async def healthy(self) -> float:
        """Poll ``/healthz`` until it answers 200; the time it did (bound it with a timeout)."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.process is None or self.process.returncode is not None:
                    raise RuntimeError(f"{self.module} exited\n{self.log()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.http_url}/healthz")).status_code == 200:
                        return time.time()
                await asyncio.sleep(0.05)

    async def metric(self, name: str) -> float:
        """The sum of every sample of metric ``name`` (all labels) on the process's
        ``/metrics``, e.g. ``jiemabot_updates_total``."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            text = (await client.get(f"{self.http_url}/metrics")).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def sample(self) -> ProcSample:
        """CPU and memory of the process now (it must be running)."""
        return proc_sample(self.pid)

    async def stop(self, within: float = 30.0) -> int | None:
        """SIGTERM and wait for the exit (SIGKILL after ``within`` s); the exit code."""
        process = self.process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            return await process.wait()

    async def kill(self) -> None:
        """SIGKILL: the process dies wherever it is (a crash, an OOM kill)."""
        process = self.process
        if process is None or process.returncode is not None:
            raise RuntimeError(f"{self.module} is not running")
        process.kill()
        await process.wait()

    def log(self) -> str:
        """What the process printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def sleep_until(deadline: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``deadline``."""
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


# -- profiling ------------------------------------------------------------------------------


def start_py_spy(pid: int, seconds: float, path: Path) -> subprocess.Popen[bytes]:
    """Sample the process with py-spy for ``seconds`` into a collapsed-stack file.

    Only the thread holding the GIL is sampled (``--gil``): that is where Python spends CPU,
    and idle threads (aiosqlite's worker waiting on its queue) would otherwise look busy.
    """
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--gil"]
    command += ["--rate", str(PY_SPY_RATE), "--format", "raw", "--output", str(path)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


PY_SPY_RATE = 200


def _function(frame: str) -> str:
    """``name (path:line)`` without the line: one entry per function."""
    name, _, location = frame.rpartition(" (")
    return f"{name} ({location.rsplit(':', 1)[0]})"


def frame_area(frame: str) -> str:
    """The package of a frame: ``telegram``, ``httpx``, ``asyncio``, ``bot/store`` ..."""
    parts = frame.rpartition(" (")[2].rstrip(")").split(":")[0].split("/")
    if parts[0] == "bot" and len(parts) > 1:
        return "bot/" + parts[1].removesuffix(".py")
    return parts[0].removesuffix(".py")


def summarize_collapsed(path: Path, seconds: float, top: int = 12) -> list[str]:
    """What dominates a py-spy collapsed-stack file: by package (inclusive), by function
    (self time), and our own functions (inclusive); shares of the samples."""
    areas: Counter[str] = Counter()
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for area in {frame_area(frame) for frame in frames}:
            areas[area] += count
        for function in {f for f in frames if frame_area(f).startswith("bot/")}:
            if "__main__" not in function:
                ours[function] += count
    if not total:
        return ["no samples"]
    busy = 100 * total / (seconds * PY_SPY_RATE)
    lines = [f"{total} samples holding the GIL ({busy:.0f}% of the time); share with a frame in:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in areas.most_common(top)]
    lines.append("hottest functions (self time):")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("our functions (inclusive):")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in ours.most_common(top)]
    return lines


def summarize_cprofile(path: Path, top: int = 15) -> list[str]:
    """The top functions of a cProfile dump, by own time and by cumulative time."""
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(r"/bot/", top)
    return out.getvalue().splitlines()
