"""Baselines: River wrapper, static and frozen models, periodic retrain."""

from __future__ import annotations

import numpy as np
import pytest

from learners import _prequential as pq
from streams.bench import _baselines as bl
from streams.datasets import LabelledText, abrupt

TOPICS = {
    "flu": ["flu vaccine season", "flu shots clinic", "flu virus spreads", "new flu strain"],
    "fit": ["squats and lunges", "morning run tips", "yoga for runners", "lunges for legs"],
}


def _toy_stream(n: int, change_at: int, seed: int = 0) -> list[LabelledText]:
    pool = [
        LabelledText(f"{k}{i}", text, k, 0)
        for k, texts in TOPICS.items()
        for i in range(n)
        for text in [texts[i % len(texts)]]
    ]
    return list(abrupt(pool=pool, n_events=n, change_at=change_at, seed=seed))


@pytest.mark.parametrize("name", sorted(bl.river_pipelines()))
def test_every_river_pipeline_learns_a_separable_stream(name: str) -> None:
    events = _toy_stream(200, change_at=199)[:199]
    model = bl.RiverText(bl.river_pipelines()[name]())
    preds = pq.run_prequential(model, ((e.text, e.label) for e in events))
    assert preds[0] is None
    assert pq.accuracy([e.label for e in events[100:]], preds[100:]) > 0.9


def test_online_model_adapts_after_a_remap_but_a_frozen_one_does_not() -> None:
    events = _toy_stream(600, change_at=200)
    y = [e.label for e in events]
    online = pq.run_prequential(bl.best_river(), ((e.text, e.label) for e in events))
    frozen = pq.run_prequential(
        bl.FrozenAfter(bl.best_river(), n=200), ((e.text, e.label) for e in events)
    )
    assert pq.accuracy(y[:200], frozen[:200]) == pq.accuracy(y[:200], online[:200])
    assert pq.accuracy(y[500:], frozen[500:]) < 0.1  # every label is swapped after the change
    assert pq.accuracy(y[500:], online[500:]) > 0.9


def test_static_never_learns() -> None:
    model: bl.Static[str] = bl.Static(lambda text: "flu")
    assert pq.run_prequential(model, [("a", "fit"), ("b", "fit")]) == ["flu", "flu"]


def test_periodic_retrain_refits_from_scratch_on_everything() -> None:
    seen: list[int] = []

    def fit(xs: list[str], labels: list[str]) -> bl.Predictor[str]:
        seen.append(len(xs))
        last = labels[-1]
        return lambda x: last

    model = bl.PeriodicRetrain(fit, every=3)
    preds = pq.run_prequential(model, [(str(i), "ab"[i // 4 % 2]) for i in range(10)])
    assert seen == [3, 6, 9]
    assert (model.fits, model.train_examples) == (3, 18)
    assert preds[:4] == [None, None, None, "a"]
    assert preds[6:9] == ["b", "b", "b"]  # fit on i = 0..5, whose last label is "b"
    assert preds[9] == "a"  # fit on i = 0..8, whose last label is "a"


def test_periodic_retrain_with_a_river_fitter() -> None:
    events = _toy_stream(120, change_at=119)[:119]
    model = bl.PeriodicRetrain(bl.fit_river(bl.river_pipelines()["bow_mnb"]), every=20)
    preds = pq.run_prequential(model, ((e.text, e.label) for e in events))
    assert preds[:20] == [None] * 20
    assert pq.accuracy([e.label for e in events[40:]], preds[40:]) > 0.9


def test_softmax_regression_separates_gaussian_blobs() -> None:
    rng = np.random.default_rng(0)
    centres = {"a": [2.0, 0.0, 0.0], "b": [0.0, 2.0, 0.0], "c": [0.0, 0.0, 2.0]}
    xs = [np.array(c) + rng.normal(0, 0.5, 3) for c in centres.values() for _ in range(50)]
    labels = [k for k in centres for _ in range(50)]
    model = bl.SoftmaxRegression.fit(np.stack(xs), labels)
    hits = sum(model.predict_one(x) == y for x, y in zip(xs, labels, strict=True))
    assert hits / len(xs) > 0.95
    assert model.classes == ("a", "b", "c")
    predict = bl.fit_softmax(xs, labels)
    assert predict(np.array([0.0, 0.0, 3.0])) == "c"
