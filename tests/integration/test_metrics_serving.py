"""Scrape a real serving process's metrics endpoint while events flow."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import Settings, TextEvent
from streams import make_producer
from streams._process import free_port, wait_until

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(samples: dict[Any, float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))


def test_serving_metrics_move_with_the_stream(settings: Settings, start_proc: Any) -> None:
    port = free_port()
    s = settings.with_overrides(metrics_port=port)
    start_proc(s, "serve")
    assert wait_until(lambda: _up(port), timeout=120), "metrics endpoint never came up"
    before = scrape(port)
    assert total(before, "streamtune_predictions_total") == 0
    producer = make_producer(s)
    for i in range(40):
        e = TextEvent(
            event_id=f"m{i}", text=f"the election result {i}", timestamp=int(time.time() * 1000)
        )
        producer.send(s.topics.texts, key=e.event_id.encode(), value=e.to_bytes())
    producer.send(s.topics.texts, key=b"bad", value=b"{not json")
    producer.flush()
    producer.close()

    def moved() -> bool:
        now = scrape(port)
        return total(now, "streamtune_predictions_total") >= 40 and (
            total(now, "streamtune_dead_letters_total", reason="malformed_json") >= 1
        )

    assert wait_until(moved, timeout=120, interval=0.5)
    after = scrape(port)
    assert total(after, "streamtune_events_in_total", topic=s.topics.texts) == 41
    assert total(after, "streamtune_e2e_latency_seconds_count") == 41
    assert total(after, "streamtune_model_latency_seconds_count", stage="serve") >= 1
    assert total(after, "streamtune_batch_size_sum", stage="serve") == 41
    assert total(after, "streamtune_model_version", model="default") == 0
    assert total(after, "streamtune_consumer_lag") == 0


def _up(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True
