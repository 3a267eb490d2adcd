"""``streamtune demo``: the embedded stack, a real drifting stream, simulated users, a report.

It starts the broker, Redis (if none answers), one serving process and the learning
worker; replays health tweets whose labels (the news outlet) are remapped at a known
point; simulated users send feedback for a fraction of the predictions after a delay.
A live view shows progress, throughput, rolling accuracy, the serving version and drift
alerts. At the end it writes ``report.md``, ``metrics.json``, PNG plots and a scrape of
both processes' Prometheus metrics to the report folder.

The run has four phases, each with its own deadline and a status line:

1. *ready*: wait until serving and the worker both export ``streamtune_ready 1`` (model
   loaded, consume loop running; a process loads for 10 s or more on a busy CPU);
2. *stream*: replay the texts and send feedback until every text is predicted;
3. *settle*: wait until the processes have accounted for what the demo saw and sent
   (serving's ``streamtune_predictions_total``, the worker's ``streamtune_feedback_total``);
4. *scrape*: the final scrape of both endpoints, retried until its deadline.

A phase that misses its deadline is named in the report (``metrics.json``
``unfinished`` and a section of ``report.md``) and the demo returns 1.
"""

from __future__ import annotations

import heapq
import json
import random
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
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
from streams.datasets import DEMO_OUTLETS, TextStream, abrupt

#: Gauge both processes set to 1 once their model is loaded and they consume.
READY = "streamtune_ready"
#: Serving's count of predictions published (summed over model and label).
PREDICTIONS = "streamtune_predictions_total"
#: The worker's count of feedback events joined with their prediction (over outcomes).
FEEDBACK = "streamtune_feedback_total"
#: How often the waiting phases look again.
POLL_S = 0.25


@dataclass(frozen=True)
class DemoOptions:
    """What the demo replays, how users behave, and the deadline of each phase."""

    events: int = 2000
    change_at: int = 1200
    rate: float = 30.0  # texts per second
    feedback_fraction: float = 1.0
    feedback_delay_s: float = 1.0
    seed: int = 0
    report_dir: str = "reports/demo"
    timeout_s: float = 600.0  # the stream: first text sent to last prediction seen
    ready_timeout_s: float = 300.0  # both processes load their model
    settle_timeout_s: float = 120.0  # the processes account for the last events
    scrape_timeout_s: float = 30.0  # the final scrape, retried
    linger_s: float = 5.0  # after settling, a last publication may still land in the view


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

# -- pure logic ------------------------------------------------------------------------------


def metric_total(scrape: str | None, name: str) -> float | None:
    """Sum of the samples named ``name`` in a Prometheus text scrape; ``None`` if there are none.

    A labelled counter nobody has incremented yet has HELP and TYPE lines but no sample,
    so it counts as absent, not as zero. A failed scrape (``None``) or text that is not
    an exposition (an error page, a truncated read) has no samples either.

    Examples
    --------
    >>> text = '''# HELP streamtune_feedback_total Feedback events.
    ... # TYPE streamtune_feedback_total counter
    ... streamtune_feedback_total{outcome="correct"} 3.0
    ... streamtune_feedback_total{outcome="wrong"} 2.0
    ... streamtune_feedback_created{outcome="wrong"} 1.7e9
    ... '''
    >>> metric_total(text, "streamtune_feedback_total")
    5.0
    >>> metric_total(text.split("streamtune_feedback_total{")[0], "streamtune_feedback_total")
    >>> metric_total("<html>502</html>", "streamtune_ready")
    """
    if scrape is None:
        return None
    try:
        values = [
            s.value
            for family in text_string_to_metric_families(scrape)
            for s in family.samples
            if s.name == name
        ]
    except ValueError:
        return None
    return float(sum(values)) if values else None


def readiness(scrape: str | None) -> str | None:
    r"""Why a process is not ready, judged from its scrape; ``None`` when it is.

    Examples
    --------
    >>> readiness(None)
    'metrics endpoint not answering'
    >>> readiness("streamtune_ready 0.0\n")
    'loading its model'
    >>> readiness("python_info 1.0\n")
    'endpoint answers without streamtune_ready'
    >>> readiness("streamtune_ready 1.0\n") is None
    True
    """
    if scrape is None:
        return "metrics endpoint not answering"
    value = metric_total(scrape, READY)
    if value is None:
        return f"endpoint answers without {READY}"
    return None if value >= 1 else "loading its model"


def not_ready(scrapes: Mapping[str, str | None]) -> list[str]:
    r"""``"name: reason"`` for every process that is not ready; empty when all are.

    Examples
    --------
    >>> not_ready({"serve": "streamtune_ready 1\n", "worker": "streamtune_ready 0\n"})
    ['worker: loading its model']
    >>> not_ready({"serve": "streamtune_ready 1\n"})
    []
    """
    return [f"{name}: {why}" for name, s in scrapes.items() if (why := readiness(s)) is not None]


def shortfall(scrape: str | None, name: str, want: int) -> float | None:
    r"""How many of ``want`` the counter ``name`` still lacks (``None``: nothing to wait for).

    A counter may exceed ``want``: a replay after a rebalance counts some events twice.

    Examples
    --------
    >>> shortfall('streamtune_feedback_total{outcome="wrong"} 7\n', FEEDBACK, 10)
    3.0
    >>> shortfall('streamtune_feedback_total{outcome="wrong"} 12\n', FEEDBACK, 10) is None
    True
    >>> shortfall(None, FEEDBACK, 0) is None
    True
    >>> shortfall(None, FEEDBACK, 4)
    4.0
    """
    got = metric_total(scrape, name) or 0.0
    return None if got >= want else want - got


def unsettled(
    serve: str | None, worker: str | None, predicted: int, feedback_sent: int
) -> list[str]:
    r"""What the processes have not accounted for yet; empty when the final scrape may be taken.

    Serving counts a batch's predictions just after publishing them, and the worker
    counts a feedback event once it has joined it with its prediction: both trail what
    the demo has seen and sent.

    Examples
    --------
    >>> unsettled("streamtune_predictions_total 160\n", None, 160, 160)
    ['worker: 0 of 160 feedback events accounted (metrics endpoint not answering)']
    >>> worker = 'streamtune_feedback_total{outcome="correct"} 150\n'
    >>> unsettled("streamtune_predictions_total 158\n", worker, 160, 160)
    ['serve: 158 of 160 predictions counted', 'worker: 150 of 160 feedback events accounted']
    >>> unsettled("streamtune_predictions_total 160\n", worker, 160, 150)
    []
    """
    out = []
    checks = (
        ("serve", serve, PREDICTIONS, predicted, "predictions counted"),
        ("worker", worker, FEEDBACK, feedback_sent, "feedback events accounted"),
    )
    for who, scrape, name, want, what in checks:
        lack = shortfall(scrape, name, want)
        if lack is not None:
            why = " (metrics endpoint not answering)" if scrape is None else ""
            out.append(f"{who}: {want - lack:g} of {want} {what}{why}")
    return out


def status_line(what: str, pending: Sequence[str], elapsed: float, budget: float) -> str:
    """The one-line status of a waiting phase.

    Examples
    --------
    >>> status_line("waiting for the stack", ["worker: loading its model"], 12.3, 300)
    'waiting for the stack (12 s of 300 s): worker: loading its model'
    """
    return f"{what} ({elapsed:.0f} s of {budget:g} s): {'; '.join(pending)}"


def exit_code(predicted: int, events: int, unfinished: Sequence[str]) -> int:
    """0 when every text was predicted and every phase finished, else 1.

    Examples
    --------
    >>> exit_code(10, 10, []), exit_code(9, 10, []), exit_code(10, 10, ["final scrape"])
    (0, 1, 1)
    """
    return 0 if predicted == events and not unfinished else 1


def unfinished_markdown(unfinished: Sequence[str]) -> str:
    """The report section naming what did not finish ('' when everything did).

    Examples
    --------
    >>> print(unfinished_markdown(["worker: 3 of 5 feedback events accounted"]), end="")
    ## Did not finish
    <BLANKLINE>
    - worker: 3 of 5 feedback events accounted
    """
    if not unfinished:
        return ""
    return "\n".join(["## Did not finish", "", *(f"- {u}" for u in unfinished)]) + "\n"


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


# -- I/O -------------------------------------------------------------------------------------


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"


def _fetch(port: int, timeout: float) -> tuple[str | None, str]:
    """One scrape of the local endpoint on ``port``: ``(text, "")``, or ``(None, why)``."""
    try:  # the literal URL (not _url) shows the linter the scheme is http
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
            return str(r.read().decode()), ""
    except OSError as exc:
        return None, str(exc)


def _poll(
    stack: Stack, deadline: float, attempt: Callable[[], list[str]], show: Callable[[str], None]
) -> list[str]:
    """Call ``attempt`` until it reports nothing pending or ``deadline`` passes.

    ``show`` gets each pending list's status; children are supervised between attempts.
    Returns what was still pending at the deadline (empty on success).
    """
    while True:
        pending = attempt()
        if not pending or time.monotonic() >= deadline:
            return pending
        stack.supervise_once()
        show("; ".join(pending))
        time.sleep(POLL_S)


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
        self.status = "streaming"
        self.started = time.monotonic()
        self.done = 0

    def render(self) -> Group:
        elapsed = max(1e-6, time.monotonic() - self.started)
        acc = sum(self.hits) / len(self.hits) if self.hits else float("nan")
        table = Table.grid(padding=(0, 2))
        table.add_row("status", self.status)
        table.add_row("throughput", f"{self.done / elapsed:.1f} predictions/s")
        table.add_row("rolling accuracy (last 100)", f"{acc:.1%}")
        table.add_row("model version serving", f"v{self.version}")
        table.add_row("versions published", ", ".join(self.updates[-6:]) or "-")
        table.add_row("drift alerts", str(len(self.alerts)))
        for line in self.alerts[-4:]:
            table.add_row("", f"[red]{line}[/]")
        return Group(self.progress, Panel(table, title="streamtune demo", expand=False))


class _Replay:
    """The stream phase's state: texts to send, predictions seen, feedback due."""

    def __init__(self, eff: Settings, opt: DemoOptions, stream: TextStream, view: _View) -> None:
        self.eff, self.opt, self.stream, self.view = eff, opt, stream, view
        run = uuid.uuid4().hex[:6]
        self.outcomes = [
            Outcome(i, f"demo-{run}-{i}", e.label, 0.0) for i, e in enumerate(stream.events)
        ]
        self.by_id = {o.event_id: o for o in self.outcomes}
        self.rng = random.Random(opt.seed)
        self.producer = make_producer(eff)
        self.predictions = open_tail(eff, eff.topics.predictions, from_beginning=True)
        self.alerts = open_tail(eff, eff.topics.drift_alerts, from_beginning=True)
        self.updates = open_tail(eff, eff.topics.model_updates, from_beginning=True)
        self.markers: list[Marker] = []
        self.feedback_due: list[tuple[float, str]] = []
        self.next_text = 0
        self.feedback_sent = 0
        self.t0 = time.monotonic()

    def start(self) -> None:
        """The stream starts now: texts are sent at ``rate`` from here."""
        self.t0 = self.view.started = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    @property
    def finished(self) -> bool:
        """Every text predicted and every feedback due sent."""
        return self.view.done == self.opt.events and not self.feedback_due

    def step(self) -> None:
        """Send the texts and feedback that are due; take in predictions and markers."""
        self._send_texts()
        self._take_predictions()
        self._send_feedback()
        self.poll_markers()

    def _send_texts(self) -> None:
        opt, view = self.opt, self.view
        while self.next_text < opt.events and self.next_text <= self.now() * opt.rate:
            o, e = self.outcomes[self.next_text], self.stream.events[self.next_text]
            event = TextEvent(event_id=o.event_id, text=e.text)
            self.producer.send(
                self.eff.topics.texts, key=o.event_id.encode(), value=event.to_bytes()
            )
            o.sent_s = self.now()
            self.next_text += 1
            view.progress.update(view.sent, completed=self.next_text)

    def _take_predictions(self) -> None:
        view = self.view
        for records in self.predictions.poll(timeout_ms=50).values():
            for r in records:
                p = Prediction.model_validate_json(r.value)
                got = self.by_id.get(p.event_id)
                if got is None or got.predicted is not None:
                    continue
                got.predicted, got.version = p.label, p.model_version
                got.predicted_s = self.now()
                view.done += 1
                view.hits.append(p.label == got.label)
                view.version = max(view.version, p.model_version)
                if self.rng.random() < self.opt.feedback_fraction:
                    due = got.predicted_s + self.opt.feedback_delay_s
                    heapq.heappush(self.feedback_due, (due, got.event_id))
            view.progress.update(view.predicted, completed=view.done)

    def _send_feedback(self) -> None:
        while self.feedback_due and self.feedback_due[0][0] <= self.now():
            _, event_id = heapq.heappop(self.feedback_due)
            fb = FeedbackEvent(
                event_id=event_id,
                label=self.by_id[event_id].label,
                user_id=f"user-{self.rng.randrange(50)}",
            )
            self.producer.send(self.eff.topics.feedback, key=event_id.encode(), value=fb.to_bytes())
            self.feedback_sent += 1
            self.view.progress.update(self.view.feedback, completed=self.feedback_sent)

    def poll_markers(self) -> None:
        """Drift alerts and model updates into the view and the report's markers."""
        _poll_markers(self.alerts, self.updates, self.view, self.markers, self.opt, self.t0)

    def close(self) -> None:
        for c in (self.predictions, self.alerts, self.updates):
            c.close()
        self.producer.close()


def run_demo(settings: Settings, options: DemoOptions | None = None) -> int:
    """Run the demo; returns 0 when every text was predicted and every phase finished.

    Whatever did not finish within its deadline, the report is still written, and
    names it.
    """
    opt = options or DemoOptions()
    console = Console()
    stream = abrupt(
        labels=DEMO_OUTLETS, n_events=opt.events, change_at=opt.change_at, seed=opt.seed
    )
    labels = tuple(sorted(stream.labels))
    ports = {"serve": free_port(), "worker": free_port()}
    base = settings.with_overrides(
        labels=labels,
        label_descriptions=dict(stream.descriptions),
        artifact_dir=str(Path(opt.report_dir) / "artifacts"),
        redis_prefix=f"{settings.redis_prefix}demo-{uuid.uuid4().hex[:6]}:",
        **DEMO_SETTINGS,
    )
    console.print(
        f"[bold]streamtune demo[/]: {opt.events} health tweets from {len(labels)} outlets; "
        f"labels remapped at event {opt.change_at}; feedback for {opt.feedback_fraction:.0%} "
        f"of predictions after {opt.feedback_delay_s:g} s"
    )
    unfinished: list[str] = []
    phases: dict[str, float] = {}
    scrapes: dict[str, str] = {}
    t = time.monotonic()
    with Stack(base) as stack:
        phases["start_s"] = _since(t)
        eff = stack.settings
        console.print(f"broker {eff.bootstrap_servers}; process logs in {stack.log_dir}")
        stack.add("serve-0", ["serve"], {"STREAMTUNE_METRICS_PORT": str(ports["serve"])})
        stack.add("worker", ["worker"], {"STREAMTUNE_METRICS_PORT": str(ports["worker"])})
        view = _View(opt.events)
        replay = _Replay(eff, opt, stream, view)  # its consumers connect while models load
        try:
            t = time.monotonic()
            unfinished += _wait_ready(stack, ports, opt.ready_timeout_s, console)
            phases["ready_s"] = _since(t)
            with Live(view.render(), console=console, refresh_per_second=4) as live:
                t = time.monotonic()
                if not unfinished:  # without serving and the worker there is nothing to show
                    replay.start()
                    unfinished += _stream(stack, replay, live)
                phases["stream_s"] = _since(t)
                t = time.monotonic()
                replay.producer.flush()
                unfinished += _settle(stack, replay, ports["serve"], ports["worker"], live)
                _linger(stack, replay, live)
                phases["settle_s"] = _since(t)
                view.status = "final metrics scrape"
                live.update(view.render())
                scrapes, failed = _final_scrapes(stack, ports, opt.scrape_timeout_s)
                unfinished += failed
        finally:
            replay.close()
    return _write(opt, stream, labels, replay, scrapes, unfinished, phases, console)


def _wait_ready(
    stack: Stack, ports: Mapping[str, int], budget: float, console: Console
) -> list[str]:
    """Phase 1: wait until both processes export ``streamtune_ready 1``; what was not ready."""
    t0 = time.monotonic()

    def attempt() -> list[str]:
        return not_ready({name: _fetch(port, timeout=2)[0] for name, port in ports.items()})

    with console.status("waiting for serving and the worker to load their models") as status:
        pending = _poll(
            stack,
            t0 + budget,
            attempt,
            lambda what: status.update(
                status_line("waiting for serving and the worker", [what], _since(t0), budget)
            ),
        )
    if pending:
        console.print(
            f"[red]not ready after {budget:g} s[/]: {'; '.join(pending)}; "
            f"process logs in {stack.log_dir}"
        )
        return [f"ready: {p} after {budget:g} s" for p in pending]
    console.print(f"serving and worker ready after {_since(t0):.1f} s")
    return []


def _stream(stack: Stack, replay: _Replay, live: Live) -> list[str]:
    """Phase 2: replay the stream until every text is predicted and its feedback sent."""
    opt, view = replay.opt, replay.view
    while not replay.finished and replay.now() < opt.timeout_s:
        replay.step()
        stack.supervise_once()
        live.update(view.render())
    replay.poll_markers()
    if replay.finished:
        return []
    return [
        f"stream: {view.done} of {opt.events} texts predicted, {len(replay.feedback_due)} "
        f"feedback events unsent, after {opt.timeout_s:g} s"
    ]


def _settle(
    stack: Stack, replay: _Replay, serve_port: int, worker_port: int, live: Live
) -> list[str]:
    """Phase 3: wait until serving and the worker have counted what the demo saw and sent."""
    budget, view = replay.opt.settle_timeout_s, replay.view
    t0 = time.monotonic()

    def attempt() -> list[str]:
        replay.poll_markers()
        live.update(view.render())
        serve, worker = _fetch(serve_port, timeout=2)[0], _fetch(worker_port, timeout=2)[0]
        return unsettled(serve, worker, view.done, replay.feedback_sent)

    def show(what: str) -> None:
        view.status = status_line("settling", [what], _since(t0), budget)

    pending = _poll(stack, t0 + budget, attempt, show)
    return [f"settle: {p} after {budget:g} s" for p in pending]


def _linger(stack: Stack, replay: _Replay, live: Live) -> None:
    """A last publication may follow the last feedback: show it if it lands soon."""
    t0 = time.monotonic()
    replay.view.status = f"waiting {replay.opt.linger_s:g} s for late model updates"
    while _since(t0) < replay.opt.linger_s:
        replay.poll_markers()
        stack.supervise_once()
        live.update(replay.view.render())
        time.sleep(POLL_S)


def _final_scrapes(
    stack: Stack, ports: Mapping[str, int], budget: float
) -> tuple[dict[str, str], list[str]]:
    """Phase 4: scrape each endpoint, retrying until ``budget``; texts and what failed."""
    deadline = time.monotonic() + budget
    texts: dict[str, str] = {}
    failed: list[str] = []
    for name, port in ports.items():
        text, why = _fetch(port, timeout=5)
        while text is None and time.monotonic() < deadline:
            stack.supervise_once()
            time.sleep(POLL_S)
            text, why = _fetch(port, timeout=5)
        if text is None:
            text = f"# scrape of {_url(port)} failed: {why}\n"
            failed.append(
                f"scrape: {name} metrics at {_url(port)} failed within {budget:g} s: {why}"
            )
        texts[name] = text
    return texts, failed


def _write(
    opt: DemoOptions,
    stream: TextStream,
    labels: tuple[str, ...],
    replay: _Replay,
    scrapes: Mapping[str, str],
    unfinished: list[str],
    phases: Mapping[str, float],
    console: Console,
) -> int:
    """Write the report (whatever finished) and print the headline; returns the exit code."""
    out = Path(opt.report_dir)
    report = RunReport(
        title="streamtune demo",
        stream=f"abrupt (health tweets, {len(labels)} outlets, remap at {opt.change_at})",
        outcomes=replay.outcomes,
        change_points=stream.change_points,
        markers=sorted(replay.markers + version_markers(replay.outcomes), key=lambda m: m.index),
        params={"options": opt.__dict__, "settings": DEMO_SETTINGS, "labels": labels},
        extra={
            "feedback_sent": replay.feedback_sent,
            "updates": replay.view.updates,
            "phases_s": {k: round(v, 1) for k, v in phases.items()},
            "unfinished": unfinished,
        },
    )
    summary = write_report(report, out)
    if unfinished:  # right under the title, where a reader starts
        md = out / "report.md"
        md.write_text(md.read_text().replace("\n\n", f"\n\n{unfinished_markdown(unfinished)}\n", 1))
    for name, text in scrapes.items():
        (out / f"metrics-{name}.prom").write_text(text)
    console.print(
        f"accuracy {summary['accuracy']:.3f}, macro-F1 {summary['macro_f1']:.3f}, "
        f"versions {summary['versions']}, {len(summary['alerts'])} drift alerts; "
        f"report: {out / 'report.md'}"
    )
    for line in unfinished:
        console.print(f"[bold red]did not finish[/]: {line}")
    return exit_code(summary["predicted"], opt.events, unfinished)


def _since(t0: float) -> float:
    return time.monotonic() - t0


def _poll_markers(
    alerts: KafkaConsumer,
    updates: KafkaConsumer,
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
