"""The metric names the shipped dashboard and alert rules use, and those a bot exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "jiema-bot.json"
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"

# Series Prometheus makes itself for every target.
_SCRAPE_SERIES = frozenset({"up"})
_NAME = re.compile(r"\b(jiemabot_[a-z0-9_]+|up)\b(?!\s*\()")
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def dashboard_queries() -> list[str]:
    """Every panel's PromQL, in order."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def rule_queries() -> list[str]:
    """Every alert rule's PromQL: ``expr: …`` on one line, or folded (``>-``) below it.

    (No YAML parser is among the dependencies; promtool checks the file's YAML itself.)
    """
    queries: list[str] = []
    lines = RULES.read_text().splitlines()
    for index, line in enumerate(lines):
        key, _, value = line.strip().partition(": ")
        if key != "expr":
            continue
        if value not in (">-", ">", "|", "|-"):
            queries.append(value)
            continue
        indent = len(line) - len(line.lstrip())
        body = []
        for follower in lines[index + 1 :]:
            if follower.strip() and len(follower) - len(follower.lstrip()) <= indent:
                break
            body.append(follower.strip())
        queries.append(" ".join(b for b in body if b))
    alerts = sum(1 for line in lines if line.strip().startswith("- alert:"))
    assert len(queries) == alerts, f"{len(queries)} expressions read for {alerts} alerts"
    return queries


def used_metrics() -> set[str]:
    """The series names the dashboard and the rules read."""
    return {m for query in dashboard_queries() + rule_queries() for m in _NAME.findall(query)}


def exposed_metrics(exposition: str) -> set[str]:
    """The series names a ``/metrics`` text declares (a labelled family with no sample
    yet counts: its names are known from its type), plus those of every scrape."""
    names = set(_SCRAPE_SERIES)
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names
