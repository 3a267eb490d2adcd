"""The bench's PNGs: accuracy over time per stream, and overall accuracy per stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import numpy as np

#: Fixed colours so a system looks the same in every figure.
COLOURS = {
    "streamtune_head": "#d62728",
    "streamtune_top_k": "#ff7f0e",
    "streamtune_full": "#8c564b",
    "static_v0": "#7f7f7f",
    "static_first_window": "#bcbd22",
    "frozen_river": "#c7c7c7",
    "river": "#1f77b4",
    "periodic_equal_compute": "#2ca02c",
    "periodic_fixed": "#98df8a",
}


def _timeline(ax: Any, block: dict[str, Any], title: str) -> None:
    for name, entry in block["systems"].items():
        roll = entry["rolling"]
        ys = roll["values"]
        xs = np.arange(len(ys)) * roll["step"]
        bold = name.startswith("streamtune")
        ax.plot(
            xs,
            ys,
            label=f"{name} ({entry['accuracy']:.2f})",
            color=COLOURS.get(name),
            linewidth=2.0 if bold else 1.1,
            zorder=3 if bold else 2,
        )
    for c in block["change_points"]:
        ax.axvline(c, color="black", linestyle="--", linewidth=1)
        ax.text(c, 1.02, " change", fontsize=8, va="bottom")
        if block.get("drift_width"):
            ax.axvspan(c, c + block["drift_width"], color="grey", alpha=0.12)
    head = block["systems"].get("streamtune_head")
    if head:
        for pub in head.get("publications", []):
            if pub["accepted"]:
                ax.plot(pub["index"], 0.02, marker="^", color=COLOURS["streamtune_head"], ms=6)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("event")
    first = next(iter(block["systems"].values()), None)
    window = first["rolling"]["window"] if first else ""
    ax.set_ylabel(f"accuracy (trailing {window} events)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2, framealpha=0.85)


def write_plots(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``accuracy_<stream>.png`` per stream and ``accuracy_bars.png``; returns the paths."""
    paths: list[Path] = []
    for name, block in result["streams"].items():
        panels = [("main", block["main"])] + (
            [("short", block["short"])] if "short" in block else []
        )
        fig, axes = plt.subplots(len(panels), 1, figsize=(11, 4.2 * len(panels)), squeeze=False)
        for ax, (kind, part) in zip(axes[:, 0], panels, strict=True):
            what = "all systems" if kind == "main" else "every scope (shorter stream)"
            _timeline(
                ax,
                part,
                f"{name}: prequential accuracy, {part['n_events']} events, {what}; "
                "▲ = streamtune_head publishes",
            )
        fig.tight_layout()
        path = out / f"accuracy_{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    paths.append(_bars(result, out / "accuracy_bars.png"))
    return paths


def _bars(result: dict[str, Any], path: Path) -> Path:
    streams = list(result["streams"])
    systems = list(
        dict.fromkeys(k for b in result["streams"].values() for k in b["main"]["systems"])
    )
    fig, ax = plt.subplots(figsize=(max(7, 2.2 * len(streams) + 3), 4.5))
    width = 0.8 / max(len(systems), 1)
    for k, system in enumerate(systems):
        vals = [
            result["streams"][s]["main"]["systems"].get(system, {}).get("accuracy") or 0.0
            for s in streams
        ]
        xs = np.arange(len(streams)) + (k - (len(systems) - 1) / 2) * width
        bars = ax.bar(xs, vals, width, label=system, color=COLOURS.get(system))
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    ax.set_xticks(np.arange(len(streams)), streams)
    ax.set_ylim(0, 1)
    ax.set_ylabel("prequential accuracy (whole stream)")
    ax.set_title("Overall accuracy per stream (what was served, test-then-train)", fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
