"""A scaled-down ``streamtune demo``: the report folder has what a person reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import Settings
from streams._demo import FEEDBACK, PREDICTIONS, READY, DemoOptions, metric_total, run_demo

pytestmark = pytest.mark.integration


def test_small_demo_writes_report_plots_and_metrics_scrape(
    settings: Settings, tmp_path: Path
) -> None:
    # The demo starts its own broker; Redis is the test's (own prefix, cleaned up).
    opts = DemoOptions(
        events=160,
        change_at=100,
        rate=40.0,
        feedback_delay_s=0.2,
        report_dir=str(tmp_path / "r"),
        timeout_s=120,
        ready_timeout_s=240,
        settle_timeout_s=120,
        linger_s=0,  # late model updates only decorate the report
    )
    assert run_demo(settings, opts) == 0
    out = tmp_path / "r"
    data = json.loads((out / "metrics.json").read_text())
    s = data["summary"]
    assert s["events"] == 160 and s["predicted"] == 160
    assert data["unfinished"] == []
    assert data["feedback_sent"] == 160  # feedback_fraction 1.0
    assert 0.0 <= s["accuracy"] <= 1.0
    assert 0 in s["versions"]
    for png in ("accuracy.png", "latency_throughput.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "prequential accuracy" in report and "Did not finish" not in report
    serve = (out / "metrics-serve.prom").read_text()
    worker = (out / "metrics-worker.prom").read_text()
    # The final scrape is taken once both processes have accounted for everything: a
    # scrape before the worker was up (or before it joined the last feedback) fails here.
    assert metric_total(serve, READY) == 1 and metric_total(worker, READY) == 1
    assert (metric_total(serve, PREDICTIONS) or 0) >= 160
    assert (metric_total(worker, FEEDBACK) or 0) >= data["feedback_sent"]
