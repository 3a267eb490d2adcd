"""serving._metrics: one registry per Metrics object, and the HTTP endpoint."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from schemas import Settings
from serving._metrics import Metrics, exported_names, start_metrics_server


def _touch_everything(m: Metrics) -> None:
    m.events_in.labels(topic="t").inc()
    m.dead_letters.labels(reason="bad_json").inc()
    m.predictions.labels(model="default", label="pos").inc()
    m.batch_size.labels(stage="serve").observe(8)
    m.e2e_latency.observe(0.02)
    m.model_latency.labels(stage="train").observe(0.1)
    m.consumer_lag.labels(group="g", topic="t", partition="0").set(5)
    m.training_examples.labels(model="default").inc(32)
    m.training_loss.labels(model="default").set(0.4)
    m.feedback.labels(outcome="correct").inc()
    m.rolling_accuracy.labels(model="default").set(0.9)
    m.drift_detections.labels(detector="adwin", signal="error").inc()
    m.model_version.labels(model="default").set(3)
    m.gate_decisions.labels(model="default", decision="accepted").inc()
    m.swap_duration.observe(0.05)
    m.swaps_failed.labels(reason="sha256").inc()


def _streamtune_samples(registry: CollectorRegistry) -> set[str]:
    return {
        s.name for f in registry.collect() for s in f.samples if s.name.startswith("streamtune_")
    }


def test_instances_are_independent() -> None:
    a, b = Metrics(), Metrics()
    a.events_in.labels(topic="t").inc(2)
    assert a.registry.get_sample_value("streamtune_events_in_total", {"topic": "t"}) == 2
    assert b.registry.get_sample_value("streamtune_events_in_total", {"topic": "t"}) is None


def test_exported_names_are_exactly_what_a_busy_process_exposes() -> None:
    m = Metrics(process_metrics=False)
    _touch_everything(m)
    assert _streamtune_samples(m.registry) == exported_names()


def test_process_metrics_are_optional() -> None:
    names = {f.name for f in Metrics().registry.collect()}
    assert "process_resident_memory_bytes" in names or "python_info" in names
    assert "python_info" not in {f.name for f in Metrics(process_metrics=False).registry.collect()}


@pytest.fixture
def served() -> Iterator[tuple[Metrics, int]]:
    m = Metrics()
    server, port = start_metrics_server(Settings(), m.registry)
    try:
        yield m, port
    finally:
        server.shutdown()
        server.server_close()


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode("utf-8")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_server_binds_loopback_on_an_ephemeral_port(served: tuple[Metrics, int]) -> None:
    m, port = served
    assert Settings().metrics_host == "127.0.0.1"
    assert Settings().metrics_port == 0
    assert port > 0
    m.predictions.labels(model="default", label="pos").inc()
    before = _scrape(port)[
        ("streamtune_predictions_total", (("label", "pos"), ("model", "default")))
    ]
    m.predictions.labels(model="default", label="pos").inc(4)
    after = _scrape(port)[
        ("streamtune_predictions_total", (("label", "pos"), ("model", "default")))
    ]
    assert (before, after) == (1.0, 5.0)


def test_two_servers_in_one_process() -> None:
    a, b = Metrics(), Metrics()
    sa, pa = start_metrics_server(Settings(), a.registry)
    sb, pb = start_metrics_server(Settings(), b.registry)
    try:
        assert pa != pb
        a.model_version.labels(model="default").set(7)
        b.model_version.labels(model="default").set(8)
        assert _scrape(pa)[("streamtune_model_version", (("model", "default"),))] == 7
        assert _scrape(pb)[("streamtune_model_version", (("model", "default"),))] == 8
    finally:
        for s in (sa, sb):
            s.shutdown()
            s.server_close()
