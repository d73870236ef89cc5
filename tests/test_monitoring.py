"""The shipped Prometheus rules and Grafana dashboard: valid, tested, and about real metrics.

``promtool`` (Debian's ``prometheus`` package, installed by ``.ci/packages``) checks the
configuration and the rules and runs their unit tests (``deploy/prometheus/alerts.test.yml``);
the dashboard's queries are checked by the same parser. Every series either reads must be
one a bot exposes (``tests/e2e/test_nginx.py`` checks the same against two replicas).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bot.metrics import Metrics
from tests.monitoring import (
    DASHBOARD,
    PROMETHEUS,
    ROOT,
    dashboard_queries,
    exposed_metrics,
    rule_queries,
    used_metrics,
)
from tests.tools import require_executable


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    done = subprocess.run(  # noqa: S603 - our own arguments
        [require_executable("promtool"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def test_the_prometheus_config_and_its_rules_pass_promtool_check() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert "SUCCESS: 1 rule files found" in checked
    assert f"SUCCESS: {len(rule_queries())} rules found" in promtool("check", "rules", "alerts.yml")


def test_the_alert_rules_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_unit_test() -> None:
    tests = (PROMETHEUS / "alerts.test.yml").read_text()
    rules = (PROMETHEUS / "alerts.yml").read_text()
    names = [line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line]
    for name in names:
        assert f"alertname: {name}\n" in tests, f"{name} has no unit test"


def test_the_dashboard_queries_parse(tmp_path: Path) -> None:
    # promtool parses PromQL only in rule files: each query becomes a recording rule.
    rules = "groups:\n  - name: dashboard\n    rules:\n" + "".join(
        f"      - record: dashboard:query{index}\n        expr: {json.dumps(query)}\n"
        for index, query in enumerate(dashboard_queries())
    )
    (tmp_path / "dashboard.rules.yml").write_text(rules)
    promtool("check", "rules", "dashboard.rules.yml", cwd=tmp_path)


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = {p["title"] for p in dashboard["panels"]}
    assert titles >= {
        "Code-to-chat latency",
        "Codes delivered",
        "Pending deliveries",
        "Active orders and leased keys",
        "Poll lag",
        "jiema API errors and 429s",
        "Telegram errors and 429s",
        "Handler latency",
        "Replicas alive",
    }
    provisioned = (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "uid: prometheus" in provisioned
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"], panel["title"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_every_series_the_dashboard_and_rules_read_is_exposed() -> None:
    used = used_metrics()
    assert {"jiemabot_code_latency_seconds_bucket", "up", "jiemabot_database_errors_total"} <= used
    missing = used - exposed_metrics(Metrics().render().decode())
    assert not missing, f"read but never exposed: {sorted(missing)}"
