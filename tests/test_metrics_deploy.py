"""The Grafana dashboard and the Prometheus alert rules in deploy/ (ADR 0061): their shape,
`promtool check rules` and the rules' own unit tests when promtool is installed (Debian's
`prometheus` package), and the PromQL name reader the exported-names check relies on
(tests/test_metrics_endpoint.py compares those names with a live scrape)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from metrics_deploy_files import ALERT_TESTS, ALERTS, alert_rules, dashboard, expressions, panels
from promql_names import metric_names

DURATION = re.compile(r"\d+[smhd]")
SEVERITIES = {"page", "warn"}


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        (
            'sum by (method) (rate(billing_rpc_handled_total{code!="OK",method=~"a|b"}[5m]))',
            {"billing_rpc_handled_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le, method) "
            "(rate(billing_rpc_duration_seconds_bucket[$__rate_interval])))",
            {"billing_rpc_duration_seconds_bucket"},
        ),
        (
            "a_total / on (instance) group_left (pool) b_size > bool 1 and c offset 5m",
            {"a_total", "b_size", "c"},
        ),
        ("min_over_time((x / y)[10m:30s]) >= 1 unless z", {"x", "y", "z"}),
        ('sum(rate(m{l="sum(q)"}[1m])) by (l)', {"m"}),
        ("max(billing_x) / 1e3 * 60", {"billing_x"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_every_alert_rule_is_complete() -> None:
    groups = alert_rules()["groups"]
    assert [g["name"] for g in groups] == ["billing-rpc", "billing-work", "billing-database"]
    alerts = [rule for group in groups for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} == {
        "BillingRpcServerErrors",
        "BillingRpcLatencyP95High",
        "BillingDueWorkStuck",
        "BillingDueWorkParked",
        "BillingOutboxRelayLag",
        "BillingMetricsBacklogUnreadable",
        "BillingDbPoolExhausted",
    }
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["expr"].strip(), rule["alert"]
        assert "for" not in rule or DURATION.fullmatch(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert metric_names(rule["expr"]), rule["alert"]


def test_every_dashboard_panel_queries_prometheus() -> None:
    board = dashboard()
    assert board["uid"] == "billing-core"
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    shown = [p for p in panels(board) if p["type"] != "row"]
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    assert len(shown) == 25
    for panel in shown:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
    assert sum(1 for _ in expressions()) == 28 + 7  # 28 queries in the panels, 7 rules


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    checked = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout
    tested = subprocess.run(
        ["promtool", "test", "rules", ALERT_TESTS.name],
        cwd=ALERT_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
