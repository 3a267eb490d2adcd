"""Scores of one system on one stream, from its prequential predictions. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from learners import accuracy, by_window, correct, detection, macro_f1, recovery, rolling_accuracy


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def score(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    *,
    window: int,
    change_points: Sequence[int] = (),
    step: int = 10,
) -> dict[str, Any]:
    """Accuracy, macro-F1 (overall and by window), coverage and recovery after each change.

    ``recovery`` maps each change point to the examples after it until the trailing
    ``window`` accuracy is within 1 point of the ``window`` before it (``None``: never).
    ``pre_level`` is that accuracy before the change. ``rolling`` is the trailing-``window``
    accuracy after every ``step``-th example, for plots.

    Examples
    --------
    >>> s = score(list("aabbaabb"), list("aab") + [None] + list("bbaa"), window=2,
    ...           change_points=[4])
    >>> s["accuracy"], s["coverage"], s["recovery"], s["pre_level"]
    (0.375, 0.875, {'4': None}, {'4': 0.5})
    """
    hits = correct(y_true, y_pred)
    rec: dict[str, int | None] = {}
    pre: dict[str, float] = {}
    post: dict[str, float] = {}
    for c in change_points:
        if window <= c <= len(hits):
            rec[str(c)] = recovery(hits, c, window)
            pre[str(c)] = sum(hits[c - window : c]) / window
            post[str(c)] = sum(hits[c:]) / max(len(hits) - c, 1)
    return {
        "n": len(hits),
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred),
        "coverage": sum(p is not None for p in y_pred) / len(y_pred) if y_pred else 0.0,
        "by_window": [
            {
                "start": w.start,
                "end": w.end,
                "accuracy": w.accuracy,
                "macro_f1": _finite(w.macro_f1),
            }
            for w in by_window(y_true, y_pred, window)
        ],
        "recovery": rec,
        "pre_level": pre,
        "post_change_accuracy": post,
        "rolling": {
            "window": window,
            "step": step,
            "values": rolling_accuracy(hits, window)[::step],
        },
    }


def detection_summary(
    detections: dict[str, list[tuple[str, int]]],
    change_points: Sequence[int],
    max_delay: int | None,
) -> dict[str, Any]:
    """Per detector: drift indices, delay per change point, false alarms, warnings.

    Examples
    --------
    >>> detection_summary({"error_adwin": [("warning", 5), ("drift", 12), ("drift", 3)]},
    ...                   [10], max_delay=50)["error_adwin"]
    {'drifts': [3, 12], 'warnings': 1, 'delays': [2], 'false_alarms': 1, 'missed': 0}
    """
    out: dict[str, Any] = {}
    for name, found in sorted(detections.items()):
        drifts = sorted(i for level, i in found if level == "drift" and i >= 0)
        report = detection(drifts, change_points, max_delay)
        out[name] = {
            "drifts": drifts,
            "warnings": sum(level == "warning" for level, _ in found),
            "delays": list(report.delays),
            "false_alarms": report.false_alarms,
            "missed": report.missed,
        }
    return out


def clean(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None`` (strict JSON has no NaN).

    Examples
    --------
    >>> clean({"a": [1.0, float("nan")], "b": (float("inf"),)})
    {'a': [1.0, None], 'b': [None]}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    return obj
