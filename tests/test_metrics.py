"""The Prometheus exposition of one process's metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics, labelled


def test_each_process_has_its_own_registry_and_text_format() -> None:
    first, second = Metrics(), Metrics()
    first.updates.labels("command", "handled").inc()
    first.jiema_requests.labels("GET", "v1/orders/:id", "429").inc()
    first.code_latency.observe(1.2)
    families = {f.name: f for f in text_string_to_metric_families(first.render().decode())}
    updates = families["jiemabot_updates"].samples
    assert any(
        s.labels == {"kind": "command", "outcome": "handled"} and s.value == 1 for s in updates
    )
    assert "jiemabot_code_latency_seconds" in families
    other = {f.name: f for f in text_string_to_metric_families(second.render().decode())}
    assert not [s for s in other["jiemabot_updates"].samples if s.value]


def test_labelled_counts_into_the_counters_own_children() -> None:
    metrics = Metrics()
    calls = labelled(metrics.telegram_calls)
    calls("sendMessage", "").inc()
    calls("sendMessage", "").inc()
    calls("editMessageText", "429").inc()
    assert calls("sendMessage", "") is metrics.telegram_calls.labels("sendMessage", "")
    text = metrics.render().decode()
    assert 'jiemabot_telegram_calls_total{error="",method="sendMessage"} 2.0' in text
    assert 'jiemabot_telegram_calls_total{error="429",method="editMessageText"} 1.0' in text
