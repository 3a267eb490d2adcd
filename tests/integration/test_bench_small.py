"""A scaled-down ``streamtune bench``: structure and invariants of the report, no thresholds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from schemas import Settings
from streams.bench import BenchConfig, run_bench

pytestmark = pytest.mark.integration


def test_small_bench_report_holds_its_invariants(redis_url: str, tmp_path: Path) -> None:
    cfg = BenchConfig(
        streams=("abrupt",),
        events=150,
        scopes=("head",),
        deep_events=None,
        window=50,
        real_events=40,
        real_settle_s=0,
        threads=1,
        baselines=("static_v0", "river"),
        out_dir=str(tmp_path / "bench"),
    )
    result = run_bench(cfg, Settings(redis_url=redis_url))  # type: ignore[arg-type]

    on_disk = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert set(on_disk) == {"meta", "streams", "real_run", "claims"}
    for png in on_disk["meta"]["plots"]:
        assert (tmp_path / "bench" / png).stat().st_size > 10_000

    block = result["streams"]["abrupt"]["main"]
    assert block["n_events"] == 150 and block["change_points"] == [75]
    assert set(block["systems"]) == {"streamtune_head", "static_v0", "river"}
    for name, entry in block["systems"].items():
        for key in ("accuracy", "macro_f1", "by_window", "recovery", "rolling", "seconds"):
            assert key in entry, (name, key)
        assert isinstance(entry["accuracy"], float) and not math.isnan(entry["accuracy"])
        assert 0.0 <= entry["accuracy"] <= 1.0
        assert entry["by_window"][0]["start"] == 0 and entry["by_window"][-1]["end"] == 150
        assert set(entry["recovery"]) == {"75"}
    head = block["systems"]["streamtune_head"]
    # Replay accounting: every label either trained or held out; replay counted as compute.
    assert head["trained"] + head["held_out"] == block["labels_delivered"]
    assert head["compute_examples"] == head["trained"] + head["replayed"]
    for name, found in head["detection"].items():
        assert all(0 <= i < 150 for i in found["drifts"]), name
        assert len(found["delays"]) == 1 and found["false_alarms"] >= 0

    real = result["real_run"]
    # Every produced text is predicted or dead-lettered; nothing is unaccounted for.
    assert real["unaccounted"] == []
    assert real["predicted"] + real["dead_lettered"] == real["produced"] >= 40
    assert 0.0 <= real["accuracy"] <= 1.0
    assert 0.0 <= real["inprocess_head_accuracy_same_prefix"] <= 1.0
    assert real["latency_ms"]["n"] == 40 and real["latency_ms"]["p99"] > 0
    assert real["memory"]["serve_peak_rss_mb"] > 50 and real["memory"]["worker_peak_rss_mb"] > 50
    assert {"label_to_served", "label_to_published", "labels_not_yet_published"} <= set(
        real["freshness_s"]
    )
    assert set(result["claims"]["abrupt"]) >= {"beats_static", "beats_river", "recovery_at_75"}
