"""The Grafana dashboard parses, uses the provisioned data source and only exported metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from serving._metrics import exported_names
from tests.unit.ops.conftest import OPS, load_yaml

DASHBOARD = OPS / "grafana" / "dashboards" / "streamtune.json"
#: Series Prometheus itself provides for every target.
PROMETHEUS_BUILTIN = frozenset({"up"})
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
     "bool", "offset", "inf", "nan"}
)  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, labels and keywords removed).

    >>> sorted(metric_names('sum by (topic) (rate(a_total{x="y"}[5m])) / b'))
    ['a_total', 'b']
    """
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\$\w+", "", expr)  # Grafana variables
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        rest = expr[match.end() :].lstrip()
        if rest.startswith("(") or match.group(0) in _KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]


def test_dashboard_references_only_exported_metrics(dashboard: dict[str, Any]) -> None:
    exprs = _exprs(dashboard)
    assert len(exprs) >= 20
    allowed = exported_names() | PROMETHEUS_BUILTIN
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - allowed == set()


def test_dashboard_shows_every_metric_family(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(e) for e in _exprs(dashboard)))
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in exported_names()}
    shown = {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in used}
    assert families - shown == set()


def test_extraction_would_catch_an_unknown_metric() -> None:
    expr = "histogram_quantile(0.95, sum by (le) (rate(streamtune_e2e_latency_bucket[5m])))"
    assert metric_names(expr) == {"streamtune_e2e_latency_bucket"}
    assert "streamtune_e2e_latency_bucket" not in exported_names()


def test_datasource_is_the_provisioned_one(dashboard: dict[str, Any]) -> None:
    provisioned = load_yaml(OPS / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uid = provisioned["datasources"][0]["uid"]
    for panel in _panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid, panel["title"]


def test_panels_have_unique_ids_and_do_not_overlap(dashboard: dict[str, Any]) -> None:
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine


def test_dashboard_answers_the_four_questions(dashboard: dict[str, Any]) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    for question in ("keeping up", "accurate", "drift", "version"):
        assert any(question in r for r in rows), question


def test_provider_points_at_the_mounted_dashboards() -> None:
    provider = load_yaml(OPS / "grafana" / "provisioning" / "dashboards" / "streamtune.yml")
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
