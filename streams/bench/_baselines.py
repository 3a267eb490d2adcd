"""Baselines streamtune is measured against, all driven by prequential evaluation.

Installed with ``streams`` so ``streamtune bench`` runs from a wheel (the benchmark
scripts import it from here too).

- **River online pipelines** (:func:`river_pipelines`): bag-of-words / TF-IDF features into
  naive Bayes or linear models, ``learn_one`` per example. The best on the natural stream
  is :data:`BEST_RIVER`.
- **Static** (:class:`Static`): a predict-only callable, never updated (e.g. streamtune's
  version 0); :class:`FrozenAfter` is "trained once on the first window, never updated".
- **Periodic retrain** (:class:`PeriodicRetrain`): every ``every`` labels, refit from scratch
  on all labels so far. Compute is counted in example passes (``train_examples``) so a
  comparison "at equal compute" can match it to the incremental learner's passes.
  :class:`SoftmaxRegression` is the refit model for fixed feature vectors (e.g. the MiniLM
  embeddings serving stores): the same model family as streamtune's ``head`` scope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from river import compose, feature_extraction, linear_model, multiclass, naive_bayes, optim

X = TypeVar("X")
Predictor = Callable[[X], str | None]


class RiverText:
    """A River classifier over raw text, as an :class:`~learners._prequential.OnlineModel`.

    Examples
    --------
    >>> m = RiverText(river_pipelines()["bow_mnb"]())
    >>> m.predict_one("flu vaccine") is None
    True
    >>> m.learn_one("flu vaccine shortage", "news"); m.learn_one("ten squats a day", "fit")
    >>> m.predict_one("new flu vaccine")
    'news'
    """

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_one(self, text: str) -> str | None:
        """Predict a label (``None`` before any label was seen)."""
        label = self.model.predict_one(text)
        return None if label is None else str(label)

    def learn_one(self, text: str, label: str) -> None:
        """Update on one labelled text."""
        self.model.learn_one(text, label)


def river_pipelines() -> dict[str, Callable[[], Any]]:
    """Candidate River text pipelines, by name; each call builds a fresh one."""
    bow = feature_extraction.BagOfWords
    tfidf = feature_extraction.TFIDF
    # Some River constructors are unannotated; going through Any keeps mypy --strict quiet.
    nb: Any = naive_bayes
    lm: Any = linear_model

    def ovr_logreg() -> Any:
        return multiclass.OneVsRestClassifier(linear_model.LogisticRegression(optim.SGD(0.5)))

    return {
        "bow_mnb": lambda: compose.Pipeline(bow(), nb.MultinomialNB(alpha=1.0)),
        "bow12_mnb": lambda: compose.Pipeline(bow(ngram_range=(1, 2)), nb.MultinomialNB(alpha=1.0)),
        "bow_cnb": lambda: compose.Pipeline(bow(), nb.ComplementNB(alpha=1.0)),
        "tfidf_softmax": lambda: compose.Pipeline(
            tfidf(), linear_model.SoftmaxRegression(optim.SGD(0.5))
        ),
        "tfidf_ovr_logreg": lambda: compose.Pipeline(tfidf(), ovr_logreg()),
        "tfidf_ovr_pa": lambda: compose.Pipeline(
            tfidf(), multiclass.OneVsRestClassifier(lm.PAClassifier(C=0.1, mode=1))
        ),
    }


#: Best prequential accuracy on ``natural`` (first 5,000 events: 0.824 on all outlets, 0.628 on
#: DEMO_OUTLETS from DEMO_START_MS; bow_mnb 0.813 / 0.624, tfidf_softmax 0.817 / 0.598).
#: On ``abrupt`` (3,000 events, remap at 1,500) tfidf_softmax is best: 0.397 vs 0.378.
BEST_RIVER = "bow12_mnb"


def best_river() -> RiverText:
    """A fresh :data:`BEST_RIVER` pipeline."""
    return RiverText(river_pipelines()[BEST_RIVER]())


class Static(Generic[X]):
    """A predict-only model: never learns.

    Examples
    --------
    >>> m = Static(lambda text: "news")
    >>> m.learn_one("x", "fit"); m.predict_one("x")
    'news'
    """

    def __init__(self, predict: Predictor[X]) -> None:
        self.predict = predict

    def predict_one(self, x: X) -> str | None:
        """Predict with the fixed callable."""
        return self.predict(x)

    def learn_one(self, x: X, label: str) -> None:
        """Ignore the label: a static model is never updated."""


class FrozenAfter:
    """An online model that learns from the first ``n`` labels only, then is frozen.

    Examples
    --------
    >>> m = FrozenAfter(RiverText(river_pipelines()["bow_mnb"]()), n=1)
    >>> m.learn_one("flu", "news"); m.learn_one("squats", "fit"); m.predict_one("squats")
    'news'
    """

    def __init__(self, model: RiverText, n: int) -> None:
        self.model = model
        self.n = n
        self.seen = 0

    def predict_one(self, text: str) -> str | None:
        """Predict with the (eventually frozen) model."""
        return self.model.predict_one(text)

    def learn_one(self, text: str, label: str) -> None:
        """Learn while fewer than ``n`` labels were seen."""
        if self.seen < self.n:
            self.model.learn_one(text, label)
        self.seen += 1


@dataclass
class PeriodicRetrain(Generic[X]):
    """Refit from scratch on every label so far, each ``every`` labels.

    ``fit(xs, labels)`` returns a predictor; before the first refit nothing is predicted.
    ``train_examples`` counts the examples passed to ``fit`` in total (the compute spent,
    in example passes; multiply by a fitter's epochs if it makes several).

    Examples
    --------
    >>> def majority(xs, labels):
    ...     best = max(sorted(set(labels)), key=labels.count)
    ...     return lambda x: best
    >>> m = PeriodicRetrain(majority, every=2)
    >>> out = []
    >>> for label in ["a", "b", "b", "b"]:
    ...     out.append(m.predict_one(0)); m.learn_one(0, label)
    >>> out, m.fits, m.train_examples
    ([None, None, 'a', 'a'], 2, 6)
    """

    fit: Callable[[list[X], list[str]], Predictor[X]]
    every: int
    xs: list[X] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    fits: int = 0
    train_examples: int = 0
    _predict: Predictor[X] | None = None

    def predict_one(self, x: X) -> str | None:
        """Predict with the last refit model (``None`` before the first)."""
        return None if self._predict is None else self._predict(x)

    def learn_one(self, x: X, label: str) -> None:
        """Store the example; refit when ``every`` new labels have arrived."""
        self.xs.append(x)
        self.labels.append(label)
        if len(self.labels) % self.every == 0:
            self._predict = self.fit(list(self.xs), list(self.labels))
            self.fits += 1
            self.train_examples += len(self.labels)


def fit_river(factory: Callable[[], Any], epochs: int = 1) -> Callable[..., Predictor[str]]:
    """A ``fit`` for :class:`PeriodicRetrain` that replays all texts into a fresh River model."""

    def fit(texts: list[str], labels: list[str]) -> Predictor[str]:
        model = RiverText(factory())
        for _ in range(epochs):
            for text, label in zip(texts, labels, strict=True):
                model.learn_one(text, label)
        return model.predict_one

    return fit


@dataclass(frozen=True)
class SoftmaxRegression:
    """Multinomial logistic regression, fitted full-batch by gradient descent (deterministic).

    Examples
    --------
    >>> xs = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> model = SoftmaxRegression.fit(xs, ["a", "a", "b", "b"])
    >>> model.predict_one(np.array([0.8, 0.2])), model.predict_one(np.array([0.2, 0.8]))
    ('a', 'b')
    """

    classes: tuple[str, ...]
    weights: npt.NDArray[np.float64]
    bias: npt.NDArray[np.float64]

    @classmethod
    def fit(
        cls,
        xs: Sequence[npt.ArrayLike] | npt.NDArray[np.float64],
        labels: Sequence[str],
        *,
        steps: int = 300,
        lr: float = 2.0,
        l2: float = 1e-4,
    ) -> SoftmaxRegression:
        """Minimise mean cross-entropy + ``l2``·‖W‖² with ``steps`` full-batch steps."""
        x = np.asarray(xs, dtype=np.float64)
        classes = tuple(sorted(set(labels)))
        index = {c: i for i, c in enumerate(classes)}
        y = np.zeros((len(labels), len(classes)))
        y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
        w = np.zeros((x.shape[1], len(classes)))
        b = np.zeros(len(classes))
        for _ in range(steps):
            p = _softmax(x @ w + b)
            grad = (p - y) / len(x)
            w -= lr * (x.T @ grad + 2 * l2 * w)
            b -= lr * grad.sum(axis=0)
        return cls(classes, w, b)

    def predict_one(self, x: npt.ArrayLike) -> str:
        """The most probable class of one feature vector."""
        scores = np.asarray(x, dtype=np.float64) @ self.weights + self.bias
        return self.classes[int(np.argmax(scores))]


def fit_softmax(xs: list[npt.NDArray[np.float64]], labels: list[str]) -> Predictor[Any]:
    """A ``fit`` for :class:`PeriodicRetrain` over feature vectors (e.g. MiniLM embeddings)."""
    return SoftmaxRegression.fit(np.stack(xs), labels).predict_one


def _softmax(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: npt.NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out
