"""Prequential metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from learners import _prequential as pq


class _Echo:
    """Predicts the previous label; records the order of calls."""

    def __init__(self) -> None:
        self.last: str | None = None
        self.calls: list[str] = []

    def predict_one(self, text: str) -> str | None:
        self.calls.append(f"predict {text}")
        return self.last

    def learn_one(self, text: str, label: str) -> None:
        self.calls.append(f"learn {text}")
        self.last = label


def test_prequential_tests_before_it_trains() -> None:
    model = _Echo()
    preds = pq.run_prequential(model, [("a", "x"), ("b", "y")])
    assert preds == [None, "x"]
    assert model.calls == ["predict a", "learn a", "predict b", "learn b"]


def test_accuracy_counts_missing_predictions_as_wrong() -> None:
    assert pq.accuracy(["a", "b", "c"], ["a", None, "c"]) == pytest.approx(2 / 3)
    assert math.isnan(pq.accuracy([], []))
    with pytest.raises(ValueError, match="length"):
        pq.accuracy(["a"], [])


def test_macro_f1_by_hand() -> None:
    y_true = ["a", "a", "a", "b", "c"]
    y_pred = ["a", "a", "b", "b", "d"]
    # a: tp2 fn1 -> 0.8; b: tp1 fp1 -> 2/3; c: 0; d (predicted, never true): 0
    assert pq.macro_f1(y_true, y_pred) == pytest.approx((0.8 + 2 / 3) / 4)
    assert pq.macro_f1(["a", "b"], ["a", "b"]) == 1.0


def test_windows_cover_the_stream_exactly() -> None:
    y = ["a"] * 7
    p: list[str | None] = ["a", "b", "a", "a", "b", "a", "a"]
    windows = pq.by_window(y, p, 3)
    assert [(w.start, w.end) for w in windows] == [(0, 3), (3, 6), (6, 7)]
    assert [w.accuracy for w in windows] == pytest.approx([2 / 3, 2 / 3, 1.0])
    with pytest.raises(ValueError, match="size"):
        pq.by_window(y, p, 0)


def test_rolling_accuracy_matches_a_direct_computation() -> None:
    hits = [True, False, False, True, True, True, False, True]
    direct = [sum(hits[max(0, i - 2) : i + 1]) / min(i + 1, 3) for i in range(len(hits))]
    assert pq.rolling_accuracy(hits, 3) == pytest.approx(direct)


def test_recovery_counts_examples_until_back_within_tolerance() -> None:
    # 90% before the change, 0% for 20 examples, then 90% again.
    block = [True] * 9 + [False]
    hits = block * 10 + [False] * 20 + block * 10
    assert pq.recovery(hits, 100, window=10, tolerance=0.01) == 29
    # A looser tolerance accepts a partly recovered window sooner.
    assert pq.recovery(hits, 100, window=10, tolerance=0.5) == 24


def test_recovery_none_when_never_back_and_validates_change_point() -> None:
    assert pq.recovery([True] * 10 + [False] * 30, 10, window=5) is None
    with pytest.raises(ValueError, match="change_point"):
        pq.recovery([True] * 10, 3, window=5)


def test_detection_delays_false_alarms_and_misses() -> None:
    report = pq.detection([5, 105, 110, 260, 900], [100, 250, 600], max_delay=100)
    assert report.delays == (5, 10, None)
    assert report.false_alarms == 3  # before any change, a repeat, and one too late
    assert report.missed == 1
    assert report.mean_delay == pytest.approx(7.5)


def test_detection_without_change_points_is_all_false_alarms() -> None:
    report = pq.detection([3, 4], [])
    assert report.delays == ()
    assert report.false_alarms == 2
    assert math.isnan(report.mean_delay)
