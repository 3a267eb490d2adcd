"""A scaled-down ``streamtune demo``: the report folder has what a person reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import Settings
from streams._demo import DemoOptions, run_demo

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
        timeout_s=240,
    )
    assert run_demo(settings, opts) == 0
    out = tmp_path / "r"
    data = json.loads((out / "metrics.json").read_text())
    s = data["summary"]
    assert s["events"] == 160 and s["predicted"] == 160
    assert 0.0 <= s["accuracy"] <= 1.0
    assert 0 in s["versions"]
    for png in ("accuracy.png", "latency_throughput.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "prequential accuracy" in (out / "report.md").read_text()
    serve = (out / "metrics-serve.prom").read_text()
    worker = (out / "metrics-worker.prom").read_text()
    assert "streamtune_predictions_total" in serve
    assert "streamtune_feedback_total" in worker
