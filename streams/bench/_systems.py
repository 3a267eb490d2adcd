"""The baselines as the bench drives them: same events, same label delay, same micro-batches.

Every system sees the stream in *ticks*: a tick brings ``batch`` new events, which the
system predicts (test), then the labels of the events at least ``delay`` events old that
it has not had yet (train). streamtune's in-process replay (``_sim``) uses the same ticks,
so no system gets its labels sooner than another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from streams.bench._baselines import Predictor, SoftmaxRegression

X = TypeVar("X")
X_contra = TypeVar("X_contra", contravariant=True)


class Online(Protocol[X_contra]):
    """Predict one, learn one (the prequential protocol)."""

    def predict_one(self, x: X_contra) -> str | None:
        """Predict a label, or ``None``."""
        ...

    def learn_one(self, x: X_contra, label: str) -> None:
        """Learn one labelled input."""
        ...


def ticks(n: int, batch: int, delay: int) -> Iterator[tuple[range, range]]:
    """``(new events, labels arriving)`` per tick, until every event was predicted.

    Examples
    --------
    >>> [(list(a), list(b)) for a, b in ticks(5, batch=2, delay=1)]
    [([0, 1], [0]), ([2, 3], [1, 2]), ([4], [3])]
    """
    if batch < 1 or delay < 0:
        raise ValueError("need batch >= 1 and delay >= 0")
    labelled = 0
    for start in range(0, n, batch):
        end = min(start + batch, n)
        upto = max(labelled, end - delay)
        yield range(start, end), range(labelled, upto)
        labelled = upto


def drive(
    model: Online[X], xs: Sequence[X], labels: Sequence[str], batch: int, delay: int
) -> list[str | None]:
    """Prequential predictions of ``model`` under the bench's ticks.

    Examples
    --------
    >>> class Last:
    ...     seen = None
    ...     def predict_one(self, x): return self.seen
    ...     def learn_one(self, x, label): self.seen = label
    >>> drive(Last(), [0, 1, 2, 3], ["a", "b", "c", "d"], batch=1, delay=1)
    [None, None, 'a', 'b']
    """
    preds: list[str | None] = []
    for new, arrived in ticks(len(xs), batch, delay):
        preds.extend(model.predict_one(xs[i]) for i in new)
        for j in arrived:
            model.learn_one(xs[j], labels[j])
    return preds


@dataclass
class FitOnce(Generic[X]):
    """Fitted once on the first ``n`` labels, then never updated (``None`` before that).

    Examples
    --------
    >>> m = FitOnce(lambda xs, ys: (lambda x: ys[0]), n=2)
    >>> m.learn_one(0, "a"); m.predict_one(0) is None
    True
    >>> m.learn_one(0, "b"); m.learn_one(0, "c"); m.predict_one(0), m.train_examples
    ('a', 2)
    """

    fit: Callable[[list[X], list[str]], Predictor[X]]
    n: int
    train_examples: int = 0

    def __post_init__(self) -> None:
        self._xs: list[X] = []
        self._labels: list[str] = []
        self._predict: Predictor[X] | None = None

    def predict_one(self, x: X) -> str | None:
        """Predict with the frozen model."""
        return None if self._predict is None else self._predict(x)

    def learn_one(self, x: X, label: str) -> None:
        """Collect the first ``n`` labels; fit when the last arrives."""
        if self._predict is not None:
            return
        self._xs.append(x)
        self._labels.append(label)
        if len(self._labels) >= self.n:
            self._predict = self.fit(self._xs, self._labels)
            self.train_examples = len(self._labels)


def periodic_compute(n_labels: int, every: int) -> int:
    """Examples passed to fits by a from-scratch retrain every ``every`` of ``n_labels`` labels.

    Refit ``k`` sees ``k * every`` labels, so the total is ``every * m * (m + 1) / 2`` for
    ``m = n_labels // every`` refits: quadratic in the stream length.

    Examples
    --------
    >>> periodic_compute(1000, 250), periodic_compute(1000, 1000), periodic_compute(99, 100)
    (2500, 1000, 0)
    """
    m = n_labels // every
    return every * m * (m + 1) // 2


def match_every(n_labels: int, compute: int) -> int:
    """The retrain period whose compute is closest to ``compute`` (ties: the shorter period).

    Candidates are ``1..n_labels`` (each refits at least once).

    Examples
    --------
    >>> match_every(1000, 2500)
    250
    >>> match_every(1000, 1100)   # refits at 367 and 734 labels: 1,101 examples
    367
    """
    if n_labels < 1:
        raise ValueError("need at least one label")
    best = min(
        range(1, n_labels + 1),
        key=lambda every: (abs(periodic_compute(n_labels, every) - compute), every),
    )
    return best


def fit_embeddings(xs: list[npt.NDArray[np.float32]], labels: list[str]) -> Predictor[Any]:
    """Softmax regression on MiniLM embeddings: the ``head`` scope's model family."""
    return SoftmaxRegression.fit(np.stack(xs), labels).predict_one
