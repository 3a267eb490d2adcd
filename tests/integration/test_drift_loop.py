"""The closed loop on the real broker: abrupt change → drift alert → gated version → swap."""

from __future__ import annotations

import time
from typing import Any

import pytest

from schemas import DriftAlert, FeedbackEvent, ModelUpdate, Prediction, Settings, TextEvent
from serving import Registry
from streams import make_producer, make_redis
from tests.integration.helpers import TopicReader
from tests.integration.topics import LABELS, remap, topical

pytestmark = pytest.mark.integration

N_BEFORE, N_AFTER = 300, 400


def test_abrupt_change_is_detected_published_and_served(
    settings: Settings, start_proc: Any
) -> None:
    s = settings.with_overrides(
        labels=LABELS,
        worker_max_wait_ms=200,
        checkpoint_every_examples=40,
        publish_every_examples=100_000,  # only drift publishes here
        publish_every_s=3600,
        publish_post_drift_examples=60,  # the default is 100; 4 tries span 240
        holdout_modulus=4,
        gate_min_examples=8,
    )
    start_proc(s, "serve")
    worker = start_proc(s, "worker")
    producer = make_producer(s)
    preds = TopicReader(s, s.topics.predictions)
    stream = topical(N_BEFORE + N_AFTER, seed=3)
    served: dict[str, Prediction] = {}

    def collect() -> None:
        preds.poll()
        for r in preds.records[len(served_records) :]:
            p = Prediction.model_validate_json(r.value)
            served.setdefault(p.event_id, p)
        served_records[:] = preds.records

    served_records: list[Any] = []

    def replay(items: list[tuple[str, str, str]], change: bool, timeout: float) -> None:
        """Texts in small bursts; each text's feedback once its prediction is out."""
        for k in range(0, len(items), 20):
            burst = items[k : k + 20]
            for event_id, text, _ in burst:
                e = TextEvent(event_id=event_id, text=text)
                producer.send(s.topics.texts, key=event_id.encode(), value=e.to_bytes())
            producer.flush()
            deadline = time.monotonic() + timeout
            while not all(i in served for i, _, _ in burst) and time.monotonic() < deadline:
                collect()
            for event_id, _, label in burst:
                fb = FeedbackEvent(event_id=event_id, label=remap(label) if change else label)
                producer.send(s.topics.feedback, key=event_id.encode(), value=fb.to_bytes())
            producer.flush()

    assert_start = time.monotonic()
    replay(stream[:N_BEFORE], change=False, timeout=120)
    v0_acc = sum(served[i].label == lab for i, _, lab in stream[:N_BEFORE]) / N_BEFORE
    assert v0_acc > 0.8, f"version 0 should read these topics well ({v0_acc:.2f})"
    change_at = time.monotonic()
    replay(stream[N_BEFORE:], change=True, timeout=60)

    alerts = TopicReader(s, s.topics.drift_alerts)
    updates = TopicReader(s, s.topics.model_updates)

    def drift_alert(recs: list[Any]) -> bool:
        return any(
            DriftAlert.model_validate_json(r.value).detector == "error_adwin"
            and (DriftAlert.model_validate_json(r.value).details or {}).get("level") == "drift"
            for r in recs
        )

    alerts.until(drift_alert, 60)
    first = next(
        a
        for a in (DriftAlert.model_validate_json(r.value) for r in alerts.records)
        if a.detector == "error_adwin" and (a.details or {}).get("level") == "drift"
    )
    delay = first.examples_seen - N_BEFORE
    print(f"drift alert after {delay} labelled examples past the change; action {first.action}")
    assert 0 < delay <= 50, worker.log()[-2000:]

    updates.until(
        lambda recs: any(ModelUpdate.model_validate_json(r.value).reason == "drift" for r in recs),
        120,
    )
    drift_updates = [
        u
        for u in (ModelUpdate.model_validate_json(r.value) for r in updates.records)
        if u.reason == "drift"
    ]
    assert drift_updates, f"no drift version published; worker log:\n{worker.log()[-4000:]}"
    update = drift_updates[0]
    published_s = time.monotonic() - change_at
    print(f"drift version v{update.version} published {published_s:.1f} s after the change")
    registry = Registry(make_redis(s), s.redis_prefix)
    rejected = [
        v.version
        for v in registry.versions(s.model_name)
        if v.status == "rejected" and v.reason == "drift" and v.version < update.version
    ]
    print(f"drift candidates rejected before it: {rejected}")
    info = registry.get(s.model_name, update.version)
    assert info is not None and info.status == "published"
    assert info.metrics["challenger.recent.accuracy"] >= info.metrics["champion.recent.accuracy"], (
        info
    )

    # Serving switches to it: new texts are answered by the published version.
    extra = topical(60, seed=9, start=10_000)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        p.model_version == update.version for p in served.values()
    ):
        replay(extra[:20], change=True, timeout=30)
        extra = extra[20:] or topical(60, seed=10, start=20_000 + int(time.monotonic()))
    assert any(p.model_version == update.version for p in served.values()), (
        f"serving never answered with v{update.version}"
    )
    # Zero lost predictions over the whole run.
    assert all(i in served for i, _, _ in stream)
    preds.close()
    alerts.close()
    updates.close()
    producer.close()
    print(f"loop test took {time.monotonic() - assert_start:.0f} s")
