"""Unit tests of the validation gate and its metrics, including a poisoned challenger."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

import learners.gate as gate
from learners.gate import (
    EvalSet,
    Holdout,
    HoldoutPolicy,
    Scores,
    ValidationGate,
    evaluate,
)

LABELS = ("neg", "pos")


def test_exports_are_importable() -> None:
    for name in gate.__all__:
        assert hasattr(gate, name), name


Model = Callable[[Sequence[NDArray[np.float64]]], Scores]


def _centroid_model(
    train_x: NDArray[np.float64], train_y: list[str], labels: tuple[str, ...]
) -> Model:
    """A tiny softmax-over-distances classifier fitted on centroids; a stand-in for a checkpoint."""
    centroids = np.stack([train_x[[y == lab for y in train_y]].mean(axis=0) for lab in labels])

    def predict(xs: Sequence[NDArray[np.float64]]) -> Scores:
        logits = -np.linalg.norm(np.asarray(xs)[:, None, :] - centroids[None], axis=2) * 3.0
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        return Scores.of(probs / probs.sum(axis=1, keepdims=True), labels)

    return predict


def _data(n: int, seed: int) -> tuple[NDArray[np.float64], list[str]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    return x, [LABELS[i] for i in y]


def test_poisoned_challenger_trained_on_flipped_labels_is_rejected() -> None:
    x, y = _data(400, 0)
    champion = _centroid_model(x, y, LABELS)
    flipped = ["pos" if label == "neg" else "neg" for label in y]
    poisoned = _centroid_model(x, flipped, LABELS)
    holdout = Holdout[NDArray[np.float64]](HoldoutPolicy(modulus=1), max_size=200)
    hx, hy = _data(300, 1)
    for i, (xi, yi) in enumerate(zip(hx, hy, strict=True)):
        assert holdout.offer(f"e{i}", xi, yi)
    decision = ValidationGate().decide_on(holdout, champion, poisoned, weights=True)
    assert not decision.accepted
    assert decision.reason.startswith("worse_accuracy")
    assert decision.metrics["champion"]["recent.accuracy"] > 0.9
    assert decision.metrics["challenger"]["recent.accuracy"] < 0.1
    assert decision.metrics["challenger"]["recent.n"] == 200.0
    # The same retrained honestly passes.
    honest = _centroid_model(*_data(400, 2), LABELS)
    assert ValidationGate().decide_on(holdout, champion, honest, weights=True).accepted


def _set(champ: list[list[float]], chall: list[list[float]], y: list[str]) -> EvalSet:
    return EvalSet(y, Scores.of(champ, LABELS), Scores.of(chall, LABELS))


GOOD = [[0.9, 0.1]] * 20
Y = ["neg"] * 20


def test_within_margin_is_accepted_and_beyond_is_rejected() -> None:
    slightly_worse = [[0.9, 0.1]] * 19 + [[0.4, 0.6]]  # accuracy 0.95 vs 1.0
    lenient = ValidationGate(accuracy_margin=0.05, log_loss_margin=None)
    strict = ValidationGate(accuracy_margin=0.01, log_loss_margin=None)
    assert lenient.decide(_set(GOOD, slightly_worse, Y), weights=True).accepted
    decision = strict.decide(_set(GOOD, slightly_worse, Y), weights=True)
    assert not decision.accepted
    assert decision.reason.startswith("worse_accuracy")


def test_worse_log_loss_is_rejected_even_with_equal_accuracy() -> None:
    hesitant = [[0.55, 0.45]] * 20
    decision = ValidationGate(log_loss_margin=0.1).decide(_set(GOOD, hesitant, Y), weights=True)
    assert not decision.accepted
    assert decision.reason.startswith("worse_log_loss")
    assert (
        ValidationGate(log_loss_margin=None).decide(_set(GOOD, hesitant, Y), weights=True).accepted
    )


def test_trusted_set_must_also_pass() -> None:
    trusted_bad = _set(GOOD, [[0.1, 0.9]] * 20, Y)
    decision = ValidationGate().decide(_set(GOOD, GOOD, Y), trusted_bad, weights=True)
    assert not decision.accepted
    assert "on trusted" in decision.reason
    assert "trusted.accuracy" in decision.metrics["challenger"]


@pytest.mark.parametrize(
    "weights",
    [
        False,
        lambda: False,
        [np.ones(3), np.array([1.0, np.nan])],
        [np.array([[np.inf]])],
    ],
    ids=["flag", "callable", "nan-array", "inf-array"],
)
def test_non_finite_weights_are_always_rejected(weights: object) -> None:
    decision = ValidationGate().decide(_set(GOOD, GOOD, Y), weights=weights)  # type: ignore[arg-type]
    assert not decision.accepted
    assert decision.reason.startswith("non_finite_weights")


def test_finite_weight_arrays_pass() -> None:
    assert ValidationGate().decide(_set(GOOD, GOOD, Y), weights=[np.ones((2, 2))]).accepted


def test_non_finite_loss_or_probabilities_are_rejected() -> None:
    g = ValidationGate()
    decision = g.decide(_set(GOOD, GOOD, Y), weights=True, train_loss=math.nan)
    assert decision.reason.startswith("non_finite_loss")
    nan_probs = [[math.nan, math.nan]] * 20
    decision = g.decide(_set(GOOD, nan_probs, Y), weights=True)
    assert not decision.accepted
    assert decision.reason.startswith("non_finite_loss")


def test_small_holdout_is_rejected() -> None:
    decision = ValidationGate(min_examples=20).decide(_set(GOOD[:5], GOOD[:5], Y[:5]), weights=True)
    assert not decision.accepted
    assert decision.reason.startswith("insufficient_holdout")


def test_challenger_knowing_a_new_label_beats_a_champion_that_does_not() -> None:
    y = ["neg"] * 10 + ["new"] * 10
    champion = Scores.of([[0.9, 0.1]] * 20, LABELS)
    challenger = Scores.of([[0.8, 0.1, 0.1]] * 10 + [[0.1, 0.1, 0.8]] * 10, ("neg", "pos", "new"))
    decision = ValidationGate().decide(EvalSet(y, champion, challenger), weights=True)
    assert decision.accepted
    assert decision.metrics["champion"]["recent.accuracy"] == 0.5
    assert decision.metrics["challenger"]["recent.accuracy"] == 1.0


def test_label_order_does_not_matter() -> None:
    a = evaluate(Scores.of([[0.7, 0.3]], ("neg", "pos")), ["neg"])
    b = evaluate(Scores.of([[0.3, 0.7]], ("pos", "neg")), ["neg"])
    assert a == b


def test_scores_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="shape"):
        Scores.of([[0.5, 0.5]], ("a", "b", "c"))
    with pytest.raises(ValueError, match="unique"):
        Scores.of([[0.5, 0.5]], ("a", "a"))
    with pytest.raises(ValueError, match="rows"):
        evaluate(Scores.of([[0.5, 0.5]], LABELS), ["neg", "pos"])


def test_decision_is_a_recordable_json_record() -> None:
    decision = ValidationGate().decide(_set(GOOD, GOOD, Y), weights=True)
    assert decision.accepted
    assert decision.reason.startswith("accepted")
    record = decision.model_dump_json()
    assert '"accepted":true' in record
    flat = decision.flat_metrics()
    assert flat["champion.recent.accuracy"] == 1.0
    assert flat["challenger.recent.n"] == 20.0


def _scores_with_accuracy(right: int, n: int) -> Scores:
    """``right`` of ``n`` confidently correct for all-"neg" labels, the rest confidently wrong."""
    return Scores.of([[0.9, 0.1]] * right + [[0.1, 0.9]] * (n - right), list(LABELS))


def test_trusted_floor_stops_a_ratchet_of_small_declines() -> None:
    g = ValidationGate(accuracy_margin=0.02, log_loss_margin=None, min_examples=5)
    y = ["neg"] * 100
    recent = EvalSet(y, _scores_with_accuracy(80, 100), _scores_with_accuracy(80, 100))
    accuracies = [84, 83, 82, 81]  # each within the margin of the one before
    decisions = []
    for champ, chall in itertools.pairwise(accuracies):
        trusted = EvalSet(y, _scores_with_accuracy(champ, 100), _scores_with_accuracy(chall, 100))
        d = g.decide(recent, trusted, weights=True)
        decisions.append(d)
        if d.accepted:
            g.raise_floor(d)
    assert [d.accepted for d in decisions] == [True, True, False]
    assert decisions[-1].reason.startswith("below_trusted_floor: 0.8100 < best published 0.8400")
    assert g.trusted_floor == pytest.approx(0.84)


def test_no_floor_without_a_trusted_set() -> None:
    g = ValidationGate(min_examples=5)
    g.trusted_floor = 0.99
    y = ["neg"] * 10
    d = g.decide(
        EvalSet(y, _scores_with_accuracy(8, 10), _scores_with_accuracy(8, 10)), weights=True
    )
    assert d.accepted


def test_after_a_drift_a_more_accurate_challenger_is_not_held_back_by_log_loss() -> None:
    y = ["neg"] * 10
    # The champion the drift was detected on: 3 of 10 right, hedging.
    champ = Scores.of([[0.6, 0.4]] * 3 + [[0.4, 0.6]] * 7, list(LABELS))
    # Mid-adaptation: 6 of 10 right, but confidently wrong on the other 4.
    chall = Scores.of([[0.9, 0.1]] * 6 + [[0.001, 0.999]] * 4, list(LABELS))
    g = ValidationGate(min_examples=5)
    assert g.decide(EvalSet(y, champ, chall), weights=True).reason.startswith("worse_log_loss")
    assert g.decide(EvalSet(y, champ, chall), weights=True, after_drift=True).accepted
    # Not more accurate: log-loss still counts after a drift.
    same = Scores.of([[0.9, 0.1]] * 3 + [[0.001, 0.999]] * 7, list(LABELS))
    decision = g.decide(EvalSet(y, champ, same), weights=True, after_drift=True)
    assert decision.reason.startswith("worse_log_loss")
