"""One run of the real system: embedded broker, Redis, ``serve`` and ``worker`` processes.

Texts are produced at the bench's rate; a simulated user sends each text's label to the
feedback topic once its prediction is out plus the bench's delay. Measured:

- **latency**: prediction consumed minus text produced (same clock), p50/p95/p99;
- **throughput**: a burst of texts produced at once after the paced phase, drained by the
  one serving process (texts/s from the burst's first to its last prediction);
- **freshness**: from sending a label to the first prediction made by a version that
  learnt from it. A version covers a label when its checkpoint manifest's feedback offset
  for the label's partition lies past the label's offset (held-out labels are covered
  too: they were consumed). Also reported: label to ``ModelUpdate`` on the topic;
- **peak memory**: ``VmHWM`` (peak resident set) of the serve and worker processes;
- **accounting**: every produced text is either predicted or dead-lettered.
"""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaConsumer

from learners import Manifest, checkpoint_path
from schemas import DeadLetter, FeedbackEvent, ModelUpdate, Prediction, Settings, TextEvent
from serving._registry import Registry
from streams._clients import make_producer, make_redis
from streams._process import wait_until
from streams._stack import Stack
from streams._tail import open_tail
from streams.datasets import TextStream


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size of a live process, from ``/proc`` (``None`` if unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _pcts(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    arr = np.asarray(values, dtype=float)
    return {
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "p99": float(np.percentile(arr, 99)),
        "n": len(values),
    }


class _Reader:
    """Group-less reader of one topic, remembering each record with its arrival time."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer: KafkaConsumer = open_tail(settings, topic, from_beginning=True)
        self.items: list[tuple[float, Any]] = []

    def poll(self, timeout_ms: int = 50) -> list[Any]:
        got = []
        for records in self.consumer.poll(timeout_ms=timeout_ms).values():
            now = time.monotonic()
            for r in records:
                self.items.append((now, r))
                got.append(r)
        return got

    def close(self) -> None:
        self.consumer.close()


def real_settings(
    base: Settings, stream: TextStream, overrides: dict[str, Any], artifact_dir: str
) -> Settings:
    """Settings isolated to one bench run: its own topics, groups, Redis keys, artifacts."""
    tag = uuid.uuid4().hex[:8]
    return base.with_overrides(
        topic_prefix=f"bench{tag}.",
        redis_prefix=f"bench:{tag}:",
        serving_group=f"serving-bench{tag}",
        worker_group=f"worker-bench{tag}",
        artifact_dir=artifact_dir,
        labels=tuple(stream.labels),
        label_descriptions=dict(stream.descriptions),
        worker_scope="head",
        torch_threads=1,
        metrics_port=0,
        **overrides,
    )


def run_real(
    base: Settings,
    stream: TextStream,
    *,
    events: int,
    rate: float,
    delay: int,
    burst: int,
    overrides: dict[str, Any],
    settle_s: float | None = None,
    timeout_s: float = 300.0,
) -> dict[str, Any]:
    """Replay the first ``events`` of ``stream`` through the real system (head scope).

    ``settle_s``: how long to wait after the last label for a publication that covers it
    (``None``: ``publish_every_s`` + 10 s).
    """
    chosen = stream.events[:events]
    with tempfile.TemporaryDirectory(prefix="streamtune-bench-real-") as tmp:
        s = real_settings(base, stream, overrides, str(Path(tmp) / "artifacts"))
        logs = Path(tmp) / "logs"
        logs.mkdir()
        with Stack(s, log_dir=str(logs)) as stack:
            eff = stack.settings
            env = eff.to_env()
            serve = stack.add("serve-0", ["serve"], env)
            worker = stack.add("worker", ["worker"], env)
            try:
                return _replay(
                    eff,
                    stack,
                    serve.proc,
                    worker.proc,
                    chosen,
                    rate,
                    delay,
                    burst,
                    timeout_s,
                    settle_s,
                )
            finally:
                with contextlib.suppress(Exception):
                    client = make_redis(eff)
                    keys = list(client.scan_iter(match=f"{eff.redis_prefix}*", count=1000))
                    if keys:
                        client.delete(*keys)


def _replay(
    s: Settings,
    stack: Stack,
    serve: Any,
    worker: Any,
    chosen: tuple[Any, ...],
    rate: float,
    delay: int,
    burst: int,
    timeout_s: float,
    settle_s: float | None,
) -> dict[str, Any]:
    producer = make_producer(s)
    preds = _Reader(s, s.topics.predictions)
    t_start = time.monotonic()
    # Ready: serving answers a warm-up text, and the worker registered version 0.
    warm = f"bench-warmup-{uuid.uuid4().hex[:6]}"
    producer.send(
        s.topics.texts, key=warm.encode(), value=TextEvent(event_id=warm, text="hello").to_bytes()
    )
    producer.flush()
    registry = Registry(make_redis(s), s.redis_prefix)
    seen: dict[str, Prediction] = {}
    arrival: dict[str, float] = {}

    def collect() -> bool:
        """Take what arrived on the predictions topic (returns False, for predicates)."""
        stack.supervise_once()
        for r in preds.poll():
            p = Prediction.model_validate_json(r.value)
            if p.event_id not in seen:
                seen[p.event_id] = p
                arrival[p.event_id] = time.monotonic()
        return False

    ready = wait_until(
        lambda: (collect() or warm in seen) and registry.current_version(s.model_name) is not None,
        timeout=timeout_s,
        interval=0.01,
    )
    if not ready:
        raise RuntimeError(f"the stack did not become ready in {timeout_s:.0f} s")
    startup_s = time.monotonic() - t_start

    sent: dict[str, float] = {}
    fb_due: list[tuple[float, str, str]] = []  # (due time, event id, label)
    fb_sent: dict[str, tuple[float, Any]] = {}  # event id -> (time, send future)
    labels = {e.event_id: e.label for e in chosen}
    delay_s = delay / rate
    t0 = time.monotonic()
    i = 0
    deadline = t0 + len(chosen) / rate + timeout_s
    while time.monotonic() < deadline:
        now = time.monotonic()
        while i < len(chosen) and now >= t0 + i / rate:
            e = chosen[i]
            value = TextEvent(event_id=e.event_id, text=e.text).to_bytes()
            producer.send(s.topics.texts, key=e.event_id.encode(), value=value)
            sent[e.event_id] = time.monotonic()
            i += 1
        producer.flush()
        before = set(seen)
        collect()
        for eid in set(seen) - before:
            if eid in labels:
                fb_due.append((arrival[eid] + delay_s, eid, labels[eid]))
        now = time.monotonic()
        for item in [f for f in fb_due if f[0] <= now]:
            fb_due.remove(item)
            _, eid, label = item
            fb = FeedbackEvent(event_id=eid, label=label).to_bytes()
            fut = producer.send(s.topics.feedback, key=eid.encode(), value=fb)
            fb_sent[eid] = (time.monotonic(), fut)
        if i == len(chosen) and not fb_due and all(e.event_id in seen for e in chosen):
            break
    producer.flush()
    paced_end = time.monotonic()

    # Burst: pre-produce texts at once, measure the drain rate (no feedback for them).
    burst_ids = [f"bench-burst-{k}" for k in range(burst)]
    texts = [e.text for e in chosen] or ["hello"]
    t_burst = time.monotonic()
    for k, eid in enumerate(burst_ids):
        value = TextEvent(event_id=eid, text=texts[k % len(texts)]).to_bytes()
        producer.send(s.topics.texts, key=eid.encode(), value=value)
        sent[eid] = t_burst
    producer.flush()
    wait_until(lambda: collect() or all(b in seen for b in burst_ids), timeout=timeout_s)
    got_burst = [arrival[b] for b in burst_ids if b in arrival]
    burst_tps = (len(got_burst) / (max(got_burst) - t_burst)) if got_burst else None

    # Let the worker train and publish what the last labels brought (a scheduled candidate
    # is due after ``publish_every_examples`` or ``publish_every_s``); keep serving busy so
    # a publication shows up in a prediction.
    updates = _Reader(s, s.topics.model_updates)
    settle = s.publish_every_s + 10 if settle_s is None else settle_s
    settle_until = time.monotonic() + min(timeout_s, settle)
    probe = 0
    while time.monotonic() < settle_until:
        updates.poll(timeout_ms=200)
        collect()
        last_pub = max(
            (ModelUpdate.model_validate_json(r.value).version for _, r in updates.items), default=0
        )
        served = max((p.model_version for p in seen.values()), default=0)
        if last_pub > 0 and served >= last_pub and time.monotonic() > paced_end + 5:
            break
        pid = f"bench-probe-{probe}"
        probe += 1
        producer.send(
            s.topics.texts,
            key=pid.encode(),
            value=TextEvent(event_id=pid, text=texts[probe % len(texts)]).to_bytes(),
        )
        producer.flush()
        sent[pid] = time.monotonic()
    for _ in range(10):
        collect()
    memory = {
        "serve_peak_rss_mb": peak_rss_mb(serve.pid),
        "worker_peak_rss_mb": peak_rss_mb(worker.pid),
    }
    updates.poll(timeout_ms=500)

    dead = _Reader(s, s.topics.dead_letter)
    dead.poll(timeout_ms=1000)
    dead_ids = set()
    for _, r in dead.items:
        letter = DeadLetter.model_validate_json(r.value)
        with contextlib.suppress(Exception):
            dead_ids.add(str(json.loads(base64.b64decode(letter.raw))["event_id"]))
    dead.close()

    fb_meta = {eid: (t, fut.get(timeout=10)) for eid, (t, fut) in fb_sent.items()}
    # The updates reader starts late, so its arrival times say nothing: use the update's own
    # timestamp (epoch ms, this machine's clock) on this process's monotonic clock.
    wall_to_mono = time.monotonic() - time.time()
    pubs = []
    for _, r in updates.items:
        u = ModelUpdate.model_validate_json(r.value)
        pubs.append((u.timestamp / 1000 + wall_to_mono, u))
    updates.close()
    preds.close()
    producer.close()
    fresh = _freshness(s, fb_meta, pubs, seen, arrival)

    produced = [*sent]
    predicted = [eid for eid in produced if eid in seen]
    lost = [eid for eid in produced if eid not in seen and eid not in dead_ids]
    stream_ids = [e.event_id for e in chosen]
    lat = [(arrival[e] - sent[e]) * 1000 for e in stream_ids if e in arrival]
    span = max((arrival[e] for e in stream_ids if e in arrival), default=t0) - t0
    return {
        "events": len(chosen),
        "rate": rate,
        "delay_events": delay,
        "startup_s": startup_s,
        "produced": len(produced),
        "predicted": len(predicted),
        "dead_lettered": len([e for e in produced if e in dead_ids and e not in seen]),
        "unaccounted": lost,
        "stream_predictions": {e: seen[e].label if e in seen else None for e in stream_ids},
        "stream_versions": {e: seen[e].model_version if e in seen else None for e in stream_ids},
        "latency_ms": _pcts(lat),
        "serving_latency_ms": _pcts([seen[e].latency_ms for e in stream_ids if e in seen]),
        "paced_throughput_eps": (len(lat) / span) if span > 0 else None,
        "burst": {"texts": burst, "predicted": len(got_burst), "throughput_tps": burst_tps},
        "feedback_sent": len(fb_sent),
        "publications": [
            {"version": u.version, "reason": u.reason, "t_s": t - t0} for t, u in pubs
        ],
        "freshness_s": fresh,
        "memory": memory,
    }


def _freshness(
    s: Settings,
    fb_meta: dict[str, tuple[float, Any]],
    pubs: list[tuple[float, ModelUpdate]],
    seen: dict[str, Prediction],
    arrival: dict[str, float],
) -> dict[str, Any]:
    """Label-to-served and label-to-published times, per label covered by a published version."""
    covers: list[tuple[int, float, dict[str, int]]] = []
    for t, u in sorted(pubs, key=lambda x: x[1].version):
        if u.reason == "rollback" or u.version == 0:
            continue
        path = checkpoint_path(s.artifact_dir, s.model_name, u.version) / "manifest.json"
        try:
            manifest = Manifest.model_validate_json(path.read_text())
        except (OSError, ValueError):
            continue
        covers.append((u.version, t, dict(manifest.offsets)))
    first_served: dict[int, float] = {}
    for eid, p in seen.items():
        first_served[p.model_version] = min(first_served.get(p.model_version, 1e18), arrival[eid])
    served_s, published_s, uncovered = [], [], 0
    for t_sent, meta in fb_meta.values():
        key = f"{s.topics.feedback}:{meta.partition}"
        hit = next(((v, t) for v, t, off in covers if off.get(key, 0) > meta.offset), None)
        if hit is None:
            uncovered += 1
            continue
        version, t_pub = hit
        published_s.append(t_pub - t_sent)
        later = [t for v, t in first_served.items() if v >= version]
        if later:
            served_s.append(min(later) - t_sent)
    return {
        "label_to_served": _pcts(served_s),
        "label_to_published": _pcts(published_s),
        "labels_not_yet_published": uncovered,
    }
