"""A local fake of the jiema.my API, for tests, benchmarks and trying the bot for free.

``SandboxServer`` serves the API of ``/work/shared/jiema-api.md`` under ``/api``
and test controls under ``/_sandbox`` on a loopback port.
"""

from bot.sandbox.clock import ManualClock
from bot.sandbox.config import SandboxConfig
from bot.sandbox.engine import ApiError, OrderStatus
from bot.sandbox.faults import FaultKind
from bot.sandbox.server import SandboxServer
from bot.sandbox.stats import RequestRecord, key_fingerprint

__all__ = [
    "ApiError",
    "FaultKind",
    "ManualClock",
    "OrderStatus",
    "RequestRecord",
    "SandboxConfig",
    "SandboxServer",
    "key_fingerprint",
]
