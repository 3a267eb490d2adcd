"""Unit tests of the alert rate limiter, with a fake clock."""

from __future__ import annotations

import pytest

from learners.drift import Admission, AlertRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_flapping_detector_is_capped_per_window_and_reports_suppressed() -> None:
    clock = FakeClock()
    limiter = AlertRateLimiter(max_alerts=3, window_s=60.0, clock=clock)
    results = []
    for _ in range(10):
        results.append(limiter.admit("error_adwin"))
        clock.now += 1.0
    assert [r.allowed for r in results] == [True] * 3 + [False] * 7
    assert results[-1] == Admission(False, 7)
    assert limiter.pending() == {"error_adwin": 7}
    clock.now = 60.0  # the first alert (t=0) leaves the sliding window
    assert limiter.admit("error_adwin") == Admission(True, 7)
    assert limiter.pending() == {}
    assert limiter.suppressed_total() == {"error_adwin": 7}


def test_keys_are_limited_independently() -> None:
    clock = FakeClock()
    limiter = AlertRateLimiter(max_alerts=1, window_s=10.0, clock=clock)
    assert limiter.admit("a").allowed
    assert not limiter.admit("a").allowed
    assert limiter.admit("b").allowed


def test_window_slides() -> None:
    clock = FakeClock()
    limiter = AlertRateLimiter(max_alerts=2, window_s=10.0, clock=clock)
    assert limiter.admit("a").allowed  # t=0
    clock.now = 5.0
    assert limiter.admit("a").allowed  # t=5
    clock.now = 9.9
    assert not limiter.admit("a").allowed
    clock.now = 10.0  # t=0 expired, t=5 still inside
    assert limiter.admit("a") == Admission(True, 1)
    assert not limiter.admit("a").allowed


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="max_alerts"):
        AlertRateLimiter(max_alerts=0)
    with pytest.raises(ValueError, match="window_s"):
        AlertRateLimiter(window_s=0.0)
