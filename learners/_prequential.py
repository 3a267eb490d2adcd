"""Prequential (test-then-train) evaluation: scores, windows, recovery and detection delay.

Pure functions over the true and predicted label sequences of a stream. A missing
prediction (``None``: no model yet, or dead-lettered) counts as wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

Pred = str | None


class OnlineModel(Protocol):
    """What prequential evaluation drives: predict first, then learn from the label."""

    def predict_one(self, text: str) -> str | None:
        """Predict a label, or ``None`` when the model cannot predict yet."""
        ...

    def learn_one(self, text: str, label: str) -> None:
        """Learn from one labelled text."""
        ...


def run_prequential(model: OnlineModel, events: Iterable[tuple[str, str]]) -> list[Pred]:
    """Test then train on each ``(text, label)`` in order; return the predictions.

    Examples
    --------
    >>> class Last:
    ...     seen = None
    ...     def predict_one(self, text): return self.seen
    ...     def learn_one(self, text, label): self.seen = label
    >>> run_prequential(Last(), [("a", "x"), ("b", "x"), ("c", "y")])
    [None, 'x', 'x']
    """
    predictions: list[Pred] = []
    for text, label in events:
        predictions.append(model.predict_one(text))
        model.learn_one(text, label)
    return predictions


def correct(y_true: Sequence[str], y_pred: Sequence[Pred]) -> list[bool]:
    """Per-example hit flags.

    Examples
    --------
    >>> correct(["a", "b"], ["a", None])
    [True, False]
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"length mismatch: {len(y_true)} labels, {len(y_pred)} predictions")
    return [t == p for t, p in zip(y_true, y_pred, strict=True)]


def accuracy(y_true: Sequence[str], y_pred: Sequence[Pred]) -> float:
    """Fraction of correct predictions (``nan`` on an empty sequence).

    Examples
    --------
    >>> accuracy(["a", "b", "b", "c"], ["a", "b", "c", None])
    0.5
    """
    hits = correct(y_true, y_pred)
    return sum(hits) / len(hits) if hits else float("nan")


def macro_f1(y_true: Sequence[str], y_pred: Sequence[Pred]) -> float:
    """Unweighted mean of per-label F1 over every label in ``y_true`` or ``y_pred``.

    A label never predicted and never true does not count; one that is predicted but never
    true counts with F1 = 0 (as scikit-learn does).

    Examples
    --------
    >>> round(macro_f1(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 4)
    0.7333
    >>> macro_f1(["a"], [None])
    0.0
    """
    correct(y_true, y_pred)  # length check
    labels = set(y_true) | {p for p in y_pred if p is not None}
    if not labels:
        return float("nan")
    scores = []
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(y_true, y_pred, strict=True))
        fp = sum(t != label and p == label for t, p in zip(y_true, y_pred, strict=True))
        fn = sum(t == label and p != label for t, p in zip(y_true, y_pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


@dataclass(frozen=True)
class WindowScore:
    """Scores of the examples ``[start, end)``."""

    start: int
    end: int
    accuracy: float
    macro_f1: float


def by_window(y_true: Sequence[str], y_pred: Sequence[Pred], size: int) -> list[WindowScore]:
    """Scores over consecutive non-overlapping windows of ``size`` (the last may be shorter).

    Examples
    --------
    >>> [(w.start, w.end, w.accuracy) for w in by_window("aabbc", "abbbc", 2)]
    [(0, 2, 0.5), (2, 4, 1.0), (4, 5, 1.0)]
    """
    if size < 1:
        raise ValueError("window size must be >= 1")
    correct(y_true, y_pred)
    return [
        WindowScore(
            i,
            min(i + size, len(y_true)),
            accuracy(y_true[i : i + size], y_pred[i : i + size]),
            macro_f1(y_true[i : i + size], y_pred[i : i + size]),
        )
        for i in range(0, len(y_true), size)
    ]


def rolling_accuracy(hits: Sequence[bool], window: int) -> list[float]:
    """Trailing-window accuracy after each example (shorter windows at the start).

    Examples
    --------
    >>> rolling_accuracy([True, False, True, True], 2)
    [1.0, 0.5, 0.5, 1.0]
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    out, total = [], 0
    for i, hit in enumerate(hits):
        total += hit
        if i >= window:
            total -= hits[i - window]
        out.append(total / min(i + 1, window))
    return out


def recovery(
    hits: Sequence[bool], change_point: int, window: int, tolerance: float = 0.01
) -> int | None:
    """Examples after a change until accuracy is back within ``tolerance`` of its old level.

    The pre-drift level is the accuracy over the ``window`` examples before the change.
    After it, the first ``k >= window`` whose trailing window ``[c + k - window, c + k)``
    (all post-change) scores at least ``level - tolerance`` gives the answer ``k``.
    ``None`` if the stream ends first.

    Examples
    --------
    >>> hits = [True] * 10 + [False] * 5 + [True] * 10
    >>> recovery(hits, 10, window=4, tolerance=0.01)
    9
    >>> recovery([True] * 4 + [False] * 4, 4, window=2) is None
    True
    """
    if not window <= change_point <= len(hits):
        raise ValueError(f"need {window} <= change_point <= {len(hits)}; got {change_point}")
    level = sum(hits[change_point - window : change_point]) / window
    post = hits[change_point:]
    total = sum(post[:window])
    for k in range(window, len(post) + 1):
        if k > window:
            total += post[k - 1] - post[k - 1 - window]
        if total / window >= level - tolerance - 1e-12:
            return k
    return None


@dataclass(frozen=True)
class DetectionReport:
    """How detections line up with true change points."""

    delays: tuple[int | None, ...]
    """Per change point: examples from it to its first detection, ``None`` if missed."""
    false_alarms: int
    """Detections that belong to no change point."""

    @property
    def missed(self) -> int:
        """Change points never detected."""
        return sum(d is None for d in self.delays)

    @property
    def mean_delay(self) -> float:
        """Mean delay over detected change points (``nan`` if none)."""
        found = [d for d in self.delays if d is not None]
        return sum(found) / len(found) if found else float("nan")


def detection(
    detections: Iterable[int], change_points: Sequence[int], max_delay: int | None = None
) -> DetectionReport:
    """Match detection indices to change points.

    The first detection at or after a change point (before the next one, and within
    ``max_delay`` if given) detects it; every other detection is a false alarm.

    Examples
    --------
    >>> r = detection([50, 120, 130, 400], [100, 300], max_delay=50)
    >>> r.delays, r.false_alarms, r.missed
    ((20, None), 3, 1)
    """
    points = sorted(change_points)
    delays: list[int | None] = [None] * len(points)
    false_alarms = 0
    for d in sorted(detections):
        owner = max((i for i, c in enumerate(points) if c <= d), default=None)
        ok = (
            owner is not None
            and delays[owner] is None
            and (max_delay is None or d - points[owner] <= max_delay)
        )
        if owner is not None and ok:
            delays[owner] = d - points[owner]
        else:
            false_alarms += 1
    return DetectionReport(tuple(delays), false_alarms)
