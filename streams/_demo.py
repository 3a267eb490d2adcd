"""``streamtune demo``: the embedded stack, a real drifting stream, simulated users, a report.

It starts the broker, Redis (if none answers), one serving process and the learning
worker; replays health tweets whose labels (the news outlet) are remapped at a known
point; simulated users send feedback for a fraction of the predictions after a delay.
A live view shows progress, throughput, rolling accuracy, the serving version and drift
alerts. At the end it writes ``report.md``, ``metrics.json``, PNG plots and a scrape of
both processes' Prometheus metrics to the report folder.
"""

from __future__ import annotations

import heapq
import json
import random
import time
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas import DriftAlert, FeedbackEvent, ModelUpdate, Prediction, Settings, TextEvent
from streams._clients import make_producer
from streams._process import free_port
from streams._report import Marker, Outcome, RunReport, write_report
from streams._stack import Stack
from streams._tail import open_tail
from streams.datasets import DEMO_OUTLETS, abrupt


@dataclass(frozen=True)
class DemoOptions:
    """What the demo replays, and how users behave."""

    events: int = 2000
    change_at: int = 1200
    rate: float = 30.0  # texts per second
    feedback_fraction: float = 1.0
    feedback_delay_s: float = 1.0
    seed: int = 0
    report_dir: str = "reports/demo"
    timeout_s: float = 600.0


#: Worker and serving settings that make the loop visible within a few minutes.
DEMO_SETTINGS: dict[str, Any] = {
    "worker_max_wait_ms": 200,
    "checkpoint_every_examples": 50,
    "checkpoint_every_s": 5.0,
    "publish_every_examples": 100,
    "publish_every_s": 10.0,
    "publish_post_drift_examples": 60,
    "holdout_modulus": 5,
    "gate_min_examples": 15,
    "prediction_ttl_s": 3600,
}


def _scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())
    except OSError as exc:
        return f"# scrape of {url} failed: {exc}\n"


class _View:
    """The live view's state and its rendering."""

    def __init__(self, total: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self.sent = self.progress.add_task("texts sent", total=total)
        self.predicted = self.progress.add_task("predicted", total=total)
        self.feedback = self.progress.add_task("feedback sent", total=None)
        self.hits: deque[bool] = deque(maxlen=100)
        self.version = 0
        self.alerts: list[str] = []
        self.updates: list[str] = []
        self.started = time.monotonic()
        self.done = 0

    def render(self) -> Group:
        elapsed = max(1e-6, time.monotonic() - self.started)
        acc = sum(self.hits) / len(self.hits) if self.hits else float("nan")
        table = Table.grid(padding=(0, 2))
        table.add_row("throughput", f"{self.done / elapsed:.1f} predictions/s")
        table.add_row("rolling accuracy (last 100)", f"{acc:.1%}")
        table.add_row("model version serving", f"v{self.version}")
        table.add_row("versions published", ", ".join(self.updates[-6:]) or "-")
        table.add_row("drift alerts", str(len(self.alerts)))
        for line in self.alerts[-4:]:
            table.add_row("", f"[red]{line}[/]")
        return Group(self.progress, Panel(table, title="streamtune demo", expand=False))


def run_demo(settings: Settings, options: DemoOptions | None = None) -> int:
    """Run the demo; returns 0 when every text was predicted and the report was written."""
    opt = options or DemoOptions()
    console = Console()
    stream = abrupt(
        labels=DEMO_OUTLETS, n_events=opt.events, change_at=opt.change_at, seed=opt.seed
    )
    labels = tuple(sorted(stream.labels))
    serve_port, worker_port = free_port(), free_port()
    base = settings.with_overrides(
        labels=labels,
        label_descriptions=dict(stream.descriptions),
        artifact_dir=str(Path(opt.report_dir) / "artifacts"),
        redis_prefix=f"{settings.redis_prefix}demo-{uuid.uuid4().hex[:6]}:",
        **DEMO_SETTINGS,
    )
    run = uuid.uuid4().hex[:6]
    rng = random.Random(opt.seed)
    outcomes = [Outcome(i, f"demo-{run}-{i}", e.label, 0.0) for i, e in enumerate(stream.events)]
    by_id = {o.event_id: o for o in outcomes}
    markers: list[Marker] = []
    console.print(
        f"[bold]streamtune demo[/]: {opt.events} health tweets from {len(labels)} outlets; "
        f"labels remapped at event {opt.change_at}; feedback for {opt.feedback_fraction:.0%} "
        f"of predictions after {opt.feedback_delay_s:g} s"
    )
    with Stack(base) as stack:
        eff = stack.settings
        console.print(f"broker {eff.bootstrap_servers}; process logs in {stack.log_dir}")
        stack.add("serve-0", ["serve"], {"STREAMTUNE_METRICS_PORT": str(serve_port)})
        stack.add("worker", ["worker"], {"STREAMTUNE_METRICS_PORT": str(worker_port)})
        producer = make_producer(eff)
        predictions = open_tail(eff, eff.topics.predictions, from_beginning=True)
        alerts = open_tail(eff, eff.topics.drift_alerts, from_beginning=True)
        updates = open_tail(eff, eff.topics.model_updates, from_beginning=True)
        feedback_due: list[tuple[float, str]] = []
        view = _View(opt.events)
        next_text = 0
        feedback_sent = 0
        t0 = time.monotonic()
        scrape: dict[str, str] = {}
        settle = 0.0
        with Live(view.render(), console=console, refresh_per_second=4) as live:
            while time.monotonic() - t0 < opt.timeout_s:
                now = time.monotonic() - t0
                while next_text < opt.events and next_text <= now * opt.rate:
                    o, e = outcomes[next_text], stream.events[next_text]
                    event = TextEvent(event_id=o.event_id, text=e.text)
                    producer.send(eff.topics.texts, key=o.event_id.encode(), value=event.to_bytes())
                    o.sent_s = time.monotonic() - t0
                    next_text += 1
                    view.progress.update(view.sent, completed=next_text)
                for records in predictions.poll(timeout_ms=50).values():
                    for r in records:
                        p = Prediction.model_validate_json(r.value)
                        got = by_id.get(p.event_id)
                        if got is None or got.predicted is not None:
                            continue
                        got.predicted, got.version = p.label, p.model_version
                        got.predicted_s = time.monotonic() - t0
                        view.done += 1
                        view.hits.append(p.label == got.label)
                        view.version = max(view.version, p.model_version)
                        if rng.random() < opt.feedback_fraction:
                            due = got.predicted_s + opt.feedback_delay_s
                            heapq.heappush(feedback_due, (due, got.event_id))
                    view.progress.update(view.predicted, completed=view.done)
                while feedback_due and feedback_due[0][0] <= time.monotonic() - t0:
                    _, event_id = heapq.heappop(feedback_due)
                    fb = FeedbackEvent(
                        event_id=event_id,
                        label=by_id[event_id].label,
                        user_id=f"user-{rng.randrange(50)}",
                    )
                    producer.send(eff.topics.feedback, key=event_id.encode(), value=fb.to_bytes())
                    feedback_sent += 1
                    view.progress.update(view.feedback, completed=feedback_sent)
                _poll_markers(alerts, updates, view, markers, opt, t0)
                stack.supervise_once()
                live.update(view.render())
                if view.done == opt.events and not feedback_due:
                    if not scrape:
                        producer.flush()
                        scrape = {"serve": _scrape(serve_port), "worker": _scrape(worker_port)}
                        settle = time.monotonic()
                    if time.monotonic() - settle > 5:  # let the last publication land
                        break
            _poll_markers(alerts, updates, view, markers, opt, t0)
        if not scrape:
            scrape = {"serve": _scrape(serve_port), "worker": _scrape(worker_port)}
        for c in (predictions, alerts, updates):
            c.close()
        producer.close()
    out = Path(opt.report_dir)
    markers += version_markers(outcomes)
    report = RunReport(
        title="streamtune demo",
        stream=f"abrupt (health tweets, {len(labels)} outlets, remap at {opt.change_at})",
        outcomes=outcomes,
        change_points=stream.change_points,
        markers=sorted(markers, key=lambda m: m.index),
        params={"options": opt.__dict__, "settings": DEMO_SETTINGS, "labels": labels},
        extra={"feedback_sent": feedback_sent, "updates": view.updates},
    )
    summary = write_report(report, out)
    for name, text in scrape.items():
        (out / f"metrics-{name}.prom").write_text(text)
    console.print(
        f"accuracy {summary['accuracy']:.3f}, macro-F1 {summary['macro_f1']:.3f}, "
        f"versions {summary['versions']}, {len(summary['alerts'])} drift alerts; "
        f"report: {out / 'report.md'}"
    )
    return 0 if summary["predicted"] == opt.events else 1


def _poll_markers(
    alerts: Any,
    updates: Any,
    view: _View,
    markers: list[Marker],
    opt: DemoOptions,
    t0: float,
) -> None:
    now = time.monotonic() - t0
    for records in alerts.poll(timeout_ms=0).values():
        for r in records:
            a = DriftAlert.model_validate_json(r.value)
            level = (a.details or {}).get("level", "")
            text = f"{a.detector} ({a.signal}, {level}) → {a.action}"
            view.alerts.append(text)
            if level == "drift" or a.detector == "rollback_monitor":
                # Place it in stream order: labelled signals count feedback, not texts.
                labelled = a.signal in ("error", "loss")
                scale = 1 / opt.feedback_fraction if labelled and opt.feedback_fraction else 1
                index = min(opt.events - 1, int(a.examples_seen * scale))
                markers.append(Marker("alert", index, now, text))
    for records in updates.poll(timeout_ms=0).values():
        for r in records:
            u = ModelUpdate.model_validate_json(r.value)
            view.updates.append(f"v{u.version} ({u.reason})")


def version_markers(outcomes: list[Outcome]) -> list[Marker]:
    """Where each version started serving: its first event in stream order.

    Predictions arrive from several partitions out of stream order, so the first
    *arrival* of a version is not where it started; the smallest index it answered is.

    Examples
    --------
    >>> o = [Outcome(0, "a", "x", 0, "x", 0, 1.0), Outcome(1, "b", "x", 0, "x", 2, 3.0),
    ...      Outcome(2, "c", "x", 0, "x", 2, 2.5)]
    >>> [(m.index, m.text) for m in version_markers(o)]
    [(1, 'v2')]
    """
    first: dict[int, Outcome] = {}
    for o in outcomes:
        if o.version is not None and (o.version not in first or o.index < first[o.version].index):
            first[o.version] = o
    return [
        Marker("version", o.index, o.predicted_s or 0.0, f"v{v}")
        for v, o in sorted(first.items())
        if v != 0
    ]


def options_from_json(text: str) -> DemoOptions:
    """Options from a JSON object (used by tests)."""
    return DemoOptions(**json.loads(text))
