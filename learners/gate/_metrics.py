"""Accuracy and log-loss from a probability matrix, across different label sets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Probability floor of the log-loss, so a label a model does not know costs
#: ``-log(EPS)`` ≈ 16.1 nats instead of infinity.
EPS = 1e-7


@dataclass(frozen=True)
class Scores:
    """A model's class probabilities on a set of examples.

    ``probs[i, j]`` is the probability of ``labels[j]`` for example ``i``.
    """

    probs: NDArray[np.float64]
    labels: tuple[str, ...]

    @classmethod
    def of(cls, probs: ArrayLike, labels: Sequence[str]) -> Scores:
        """Build from any array-like, checking the shape against the labels."""
        matrix = np.asarray(probs, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(labels):
            raise ValueError(f"probs shape {matrix.shape} does not match {len(labels)} labels")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return cls(matrix, tuple(labels))


@dataclass(frozen=True)
class Metrics:
    """Accuracy and mean log-loss on ``n`` examples."""

    accuracy: float
    log_loss: float
    n: int

    @property
    def finite(self) -> bool:
        """Whether both metrics are finite numbers."""
        return math.isfinite(self.accuracy) and math.isfinite(self.log_loss)


def evaluate(scores: Scores, y_true: Sequence[str]) -> Metrics:
    """Accuracy and log-loss of ``scores`` against the true labels.

    A true label missing from the model's label set counts as an error with
    probability :data:`EPS`, so a challenger that learned a new label is credited
    against a champion that never saw it. Non-finite probabilities give non-finite
    metrics (the gate then rejects).

    Examples
    --------
    >>> s = Scores.of([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], ["neg", "pos"])
    >>> m = evaluate(s, ["neg", "pos", "new"])
    >>> round(m.accuracy, 4), round(m.log_loss, 4), m.n
    (0.6667, 5.4822, 3)
    """
    n = len(y_true)
    if scores.probs.shape[0] != n:
        raise ValueError(f"{scores.probs.shape[0]} score rows for {n} labels")
    if n == 0:
        return Metrics(math.nan, math.nan, 0)
    column = {label: j for j, label in enumerate(scores.labels)}
    idx = np.array([column.get(label, -1) for label in y_true])
    known = idx >= 0
    rows = np.arange(n)
    p_true = np.where(known, scores.probs[rows, np.where(known, idx, 0)], 0.0)
    with np.errstate(invalid="ignore"):
        predicted = np.argmax(scores.probs, axis=1)
    correct = known & (predicted == idx)
    accuracy = float(correct.mean()) if np.isfinite(scores.probs).all() else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        log_loss = float(-np.log(np.clip(p_true, EPS, 1.0)).mean())
    if not np.isfinite(scores.probs).all():
        log_loss = math.nan
    return Metrics(accuracy, log_loss, n)
