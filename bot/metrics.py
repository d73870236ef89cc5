"""Prometheus metrics of one bot process, served at ``/metrics`` by :mod:`bot.server`.

Every metric lives in this process's own :class:`~prometheus_client.CollectorRegistry`
(not the library's global one), so several bots in one test process never collide. Figures
that belong to the whole fleet (active orders, pending deliveries) are read from the database
by the poller and set here as gauges; every replica reports the same value for them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "labelled"]

# Seconds; Telegram answers in tens of milliseconds, the jiema API in hundreds, a poll every 3 s.
_HANDLER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CODE_BUCKETS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)


def labelled(counter: Counter) -> Callable[..., Counter]:
    """``counter.labels``, each label set's child found once.

    prometheus-client validates the labels and looks the child up under a lock on every
    ``labels()``; the counters of API requests are bumped on every read and every Bot API
    call, with a few dozen label sets that recur.
    """
    return functools.cache(counter.labels)


class Metrics:
    """The metrics worth a dashboard, named ``jiemabot_*``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter(
            "jiemabot_updates", "Telegram updates handled", ["kind", "outcome"], registry=r
        )
        self.handler_seconds = Histogram(
            "jiemabot_handler_seconds",
            "Time to handle one update",
            ["kind"],
            buckets=_HANDLER_BUCKETS,
            registry=r,
        )
        self.jiema_requests = Counter(
            "jiemabot_jiema_requests",
            "Requests to the jiema API by endpoint and HTTP status (or error)",
            ["method", "endpoint", "status"],
            registry=r,
        )
        self.jiema_rate_limited = Counter(
            "jiemabot_jiema_rate_limited", "429 answers from the jiema API", registry=r
        )
        self.telegram_calls = Counter(
            "jiemabot_telegram_calls",
            "Bot API calls by method and error ('' when it succeeded)",
            ["method", "error"],
            registry=r,
        )
        self.codes_delivered = Counter(
            "jiemabot_codes_delivered", "SMS codes pushed to a chat", registry=r
        )
        self.code_latency = Histogram(
            "jiemabot_code_latency_seconds",
            "From the SMS's receivedAt to Telegram accepting the code message",
            buckets=_CODE_BUCKETS,
            registry=r,
        )
        self.pending_deliveries = Gauge(
            "jiemabot_pending_deliveries", "SMS claimed but not yet in the chat", registry=r
        )
        self.active_orders = Gauge(
            "jiemabot_active_orders", "Orders still watched (fleet-wide)", registry=r
        )
        self.leased_keys = Gauge(
            "jiemabot_leased_keys", "Keys this replica polls (holds the lease of)", registry=r
        )
        self.live_replicas = Gauge(
            "jiemabot_live_replicas",
            "Replicas whose heartbeat the database holds (fleet-wide)",
            registry=r,
        )
        self.poll_interval = Gauge(
            "jiemabot_poll_interval_seconds",
            "Configured seconds between two polls of a key",
            registry=r,
        )
        self.database_errors = Counter(
            "jiemabot_database_errors",
            "Poller rounds and updates that failed because the database was unavailable",
            registry=r,
        )
        self.poll_lag = Histogram(
            "jiemabot_poll_lag_seconds",
            "How late a key's poll ran compared to its schedule",
            buckets=_LAG_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
