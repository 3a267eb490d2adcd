"""Unit tests of the automatic-rollback decision."""

from __future__ import annotations

import numpy as np
import pytest

from learners.gate import RollbackMonitor, one_sided_z_test


def _feed(monitor: RollbackMonitor, version: int, rate: float, n: int, seed: int) -> None:
    for error in np.random.default_rng(seed).binomial(1, rate, n):
        monitor.update(version, bool(error))


def test_degraded_version_is_rolled_back() -> None:
    monitor = RollbackMonitor(window=300, min_samples=100, alpha=0.01)
    _feed(monitor, 1, 0.1, 300, seed=0)
    monitor.begin(published_version=2, predecessor_version=1)
    _feed(monitor, 2, 0.3, 300, seed=1)
    decision = monitor.check()
    assert decision.rollback
    assert decision.reason.startswith("degraded")
    assert (decision.published_version, decision.predecessor_version) == (2, 1)
    assert decision.p_value < 0.01
    assert decision.published_n == decision.predecessor_n == 300


def test_equal_or_better_version_is_kept() -> None:
    for rate in (0.1, 0.05):
        monitor = RollbackMonitor(window=300, min_samples=100, alpha=0.01)
        _feed(monitor, 1, 0.1, 300, seed=0)
        monitor.begin(2, 1)
        _feed(monitor, 2, rate, 300, seed=2)
        decision = monitor.check()
        assert not decision.rollback
        assert decision.reason.startswith("ok")


def test_no_rollback_before_min_samples() -> None:
    monitor = RollbackMonitor(window=300, min_samples=100, alpha=0.01)
    _feed(monitor, 1, 0.0, 300, seed=0)
    monitor.begin(2, 1)
    _feed(monitor, 2, 1.0, 99, seed=0)
    decision = monitor.check()
    assert not decision.rollback
    assert decision.reason.startswith("insufficient_samples")
    monitor.update(2, True)
    assert monitor.check().rollback


def test_late_feedback_of_the_predecessor_still_counts_and_old_versions_are_ignored() -> None:
    monitor = RollbackMonitor(window=200, min_samples=10, alpha=0.05)
    monitor.begin(2, 1)
    _feed(monitor, 0, 1.0, 50, seed=0)  # neither compared version
    _feed(monitor, 1, 0.0, 50, seed=0)
    _feed(monitor, 2, 0.0, 50, seed=0)
    decision = monitor.check()
    assert (decision.predecessor_n, decision.published_n) == (50, 50)


def test_begin_is_required_and_parameters_are_checked() -> None:
    with pytest.raises(RuntimeError, match="begin"):
        RollbackMonitor().check()
    with pytest.raises(ValueError, match="min_samples"):
        RollbackMonitor(window=10, min_samples=20)
    with pytest.raises(ValueError, match="alpha"):
        RollbackMonitor(alpha=1.5)


def test_z_test_against_a_known_value_and_degenerate_cases() -> None:
    z, p = one_sided_z_test(30, 100, 10, 100)
    assert z == pytest.approx(3.5355, abs=1e-4)
    assert p == pytest.approx(2.035e-4, rel=1e-2)
    assert one_sided_z_test(0, 50, 0, 50) == (0.0, 1.0)
    z, p = one_sided_z_test(10, 100, 30, 100)
    assert z < 0
    assert p > 0.99
