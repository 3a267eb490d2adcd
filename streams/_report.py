"""The run report: ``report.md``, ``metrics.json`` and PNG plots a person reads at a glance.

Pure with respect to Kafka: it takes what a run observed (one :class:`Outcome` per event,
plus markers for drift alerts and model versions) and writes files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import itertools

import matplotlib.pyplot as plt
import numpy as np

from learners import accuracy, by_window, correct, macro_f1, recovery, rolling_accuracy


@dataclass
class Outcome:
    """One event of the replay and what serving said about it."""

    index: int
    event_id: str
    label: str
    sent_s: float
    predicted: str | None = None
    version: int | None = None
    predicted_s: float | None = None

    @property
    def latency_ms(self) -> float | None:
        """Produce-to-prediction time seen by the replaying client."""
        if self.predicted_s is None:
            return None
        return (self.predicted_s - self.sent_s) * 1000


@dataclass(frozen=True)
class Marker:
    """Something that happened at a point of the stream (``index``) and time (``t_s``)."""

    kind: str  # "alert" | "version"
    index: int
    t_s: float
    text: str


@dataclass
class RunReport:
    """Everything the report is made from."""

    title: str
    stream: str
    outcomes: list[Outcome]
    change_points: Sequence[int] = ()
    markers: list[Marker] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    window: int = 100

    def summary(self) -> dict[str, Any]:
        """Headline metrics, as written to ``metrics.json``."""
        y_true = [o.label for o in self.outcomes]
        y_pred = [o.predicted for o in self.outcomes]
        hits = correct(y_true, y_pred)
        lat = [o.latency_ms for o in self.outcomes if o.latency_ms is not None]
        done = [o.predicted_s for o in self.outcomes if o.predicted_s is not None]
        span = (max(done) - min(o.sent_s for o in self.outcomes)) if done else 0.0
        # Recovery needs a full window before the change; a shorter prefix has no level.
        rec = {
            str(c): recovery(hits, c, self.window) if self.window <= c < len(hits) else None
            for c in self.change_points
            if 0 < c < len(hits)
        }
        return {
            "events": len(self.outcomes),
            "predicted": sum(o.predicted is not None for o in self.outcomes),
            "accuracy": accuracy(y_true, y_pred) if self.outcomes else float("nan"),
            "macro_f1": macro_f1(y_true, y_pred) if self.outcomes else float("nan"),
            "by_window": [asdict(w) for w in by_window(y_true, y_pred, self.window)],
            "recovery_examples": rec,
            "latency_ms": _pcts(lat),
            "throughput_per_s": (len(done) / span) if span > 0 else 0.0,
            "versions": sorted({o.version for o in self.outcomes if o.version is not None}),
            "alerts": [asdict(m) for m in self.markers if m.kind == "alert"],
            "version_changes": [asdict(m) for m in self.markers if m.kind == "version"],
        }


def _pcts(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 95, 99)}


def plot_accuracy(report: RunReport, path: Path) -> Path:
    """Prequential accuracy over the stream, with changes, alerts and versions marked."""
    hits = correct([o.label for o in report.outcomes], [o.predicted for o in report.outcomes])
    roll = rolling_accuracy(hits, report.window)
    fig, ax = plt.subplots(figsize=(11, 4.8))
    ax.plot(
        range(len(roll)), roll, color="#1f4e9c", lw=1.8, label=f"accuracy (last {report.window})"
    )
    for i, c in enumerate(report.change_points):
        ax.axvline(
            c, color="black", ls="--", lw=1.5, label="true concept change" if i == 0 else None
        )
    first_alert = True
    for m in report.markers:
        if m.kind == "alert":
            ax.axvline(
                m.index,
                color="#d62728",
                lw=1,
                alpha=0.7,
                label="drift alert" if first_alert else None,
            )
            first_alert = False
    for m in report.markers:
        if m.kind == "version":
            ax.axvline(m.index, color="#2ca02c", ls=":", lw=1.2)
            ax.text(
                m.index,
                1.01,
                m.text,
                rotation=90,
                va="bottom",
                ha="center",
                fontsize=7,
                color="#2ca02c",
                transform=ax.get_xaxis_transform(),
            )
    ax.plot([], [], color="#2ca02c", ls=":", label="new model version serving")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, max(1, len(roll)))
    ax.set_xlabel("event (stream order)")
    ax.set_ylabel("prequential accuracy")
    ax.set_title(f"{report.title}: accuracy over time ({report.stream})", pad=28)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency_throughput(report: RunReport, path: Path, bucket_s: float = 5.0) -> Path:
    """End-to-end latency percentiles and prediction throughput over wall-clock time."""
    done = [o for o in report.outcomes if o.predicted_s is not None]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    if done:
        t = np.array([o.predicted_s for o in done])
        lat = np.array([o.latency_ms for o in done], dtype=float)
        edges = np.arange(0, t.max() + bucket_s, bucket_s)
        mids, p50, p95, rate = [], [], [], []
        for lo, hi in itertools.pairwise(edges):
            sel = (t >= lo) & (t < hi)
            mids.append((lo + hi) / 2)
            rate.append(sel.sum() / bucket_s)
            p50.append(np.percentile(lat[sel], 50) if sel.any() else np.nan)
            p95.append(np.percentile(lat[sel], 95) if sel.any() else np.nan)
        ax1.scatter(t, lat, s=3, alpha=0.25, color="grey", label="each prediction")
        ax1.plot(mids, p50, color="#1f4e9c", label="p50")
        ax1.plot(mids, p95, color="#d62728", label="p95")
        ax2.bar(mids, rate, width=bucket_s * 0.9, color="#1f4e9c")
    for m in report.markers:
        if m.kind == "version":
            for ax in (ax1, ax2):
                ax.axvline(m.t_s, color="#2ca02c", ls=":", lw=1)
    ax1.set_ylabel("produce → prediction (ms)")
    ax1.set_yscale("log")
    ax1.legend(loc="upper left", fontsize=8)
    ax1.grid(alpha=0.3)
    ax1.set_title(f"{report.title}: latency and throughput (dotted: model swaps)")
    ax2.set_ylabel(f"predictions/s ({bucket_s:.0f}s bins)")
    ax2.set_xlabel("seconds since the replay started")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(report: RunReport, folder: str | Path) -> dict[str, Any]:
    """Write ``metrics.json``, ``report.md`` and the plots; returns the summary."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    summary = report.summary()
    plots = {
        "accuracy": plot_accuracy(report, out / "accuracy.png").name,
        "latency_throughput": plot_latency_throughput(report, out / "latency_throughput.png").name,
    }
    data = {
        "title": report.title,
        "stream": report.stream,
        "params": report.params,
        "summary": summary,
        "plots": plots,
        **report.extra,
    }
    (out / "metrics.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (out / "report.md").write_text(_markdown(report, summary, plots))
    return summary


def _markdown(report: RunReport, s: dict[str, Any], plots: dict[str, str]) -> str:
    lat = s["latency_ms"]
    lines = [
        f"# {report.title}",
        "",
        f"Stream `{report.stream}`: {s['events']} events, {s['predicted']} predicted.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| prequential accuracy | {s['accuracy']:.3f} |",
        f"| macro-F1 | {s['macro_f1']:.3f} |",
        f"| model versions that served | {', '.join(map(str, s['versions']))} |",
        f"| drift alerts | {len(s['alerts'])} |",
        f"| throughput | {s['throughput_per_s']:.1f} predictions/s |",
    ]
    if lat:
        lines.append(
            "| latency p50 / p95 / p99 | "
            f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f} ms |"
        )
    for c, r in s["recovery_examples"].items():
        rec = "not within the stream" if r is None else f"{r} events"
        lines.append(f"| recovery after the change at {c} | {rec} |")
    lines += [
        "",
        f"![accuracy]({plots['accuracy']})",
        "",
        f"![latency]({plots['latency_throughput']})",
        "",
    ]
    if s["alerts"]:
        lines += ["## Drift alerts", "", "| event | detector / signal |", "|---|---|"]
        lines += [f"| {a['index']} | {a['text']} |" for a in s["alerts"]]
        lines.append("")
    if s["version_changes"]:
        lines += ["## Model versions", "", "| first event served | version |", "|---|---|"]
        lines += [f"| {v['index']} | {v['text']} |" for v in s["version_changes"]]
        lines.append("")
    lines += [
        "## Parameters",
        "",
        "```json",
        json.dumps(report.params, indent=2, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)
