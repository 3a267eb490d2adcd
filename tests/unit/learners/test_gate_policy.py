"""Unit tests of the publication policy, with a fake clock."""

from __future__ import annotations

import pytest

from learners.gate import PublicationPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_drift_candidate_after_post_drift_examples() -> None:
    policy = PublicationPolicy(post_drift_examples=50, every_examples=None, every_seconds=None)
    policy.on_examples(500)
    assert policy.poll() is None
    policy.on_drift()
    policy.on_examples(49)
    assert policy.poll() is None
    policy.on_examples(1)
    assert policy.poll() == "drift"
    assert policy.pending == "drift"
    assert policy.poll() is None  # one candidate in flight
    policy.resolve(accepted=True)
    policy.on_examples(100)
    assert policy.poll() is None  # drift consumed


def test_rejected_drift_candidate_retries_then_gives_up() -> None:
    policy = PublicationPolicy(
        post_drift_examples=10, every_examples=None, every_seconds=None, drift_retries=1
    )
    policy.on_drift()
    policy.on_examples(10)
    assert policy.poll() == "drift"
    policy.resolve(accepted=False)
    policy.on_examples(9)
    assert policy.poll() is None
    policy.on_examples(1)
    assert policy.poll() == "drift"
    policy.resolve(accepted=False)
    policy.on_examples(100)
    assert policy.poll() is None


def test_schedule_by_examples() -> None:
    policy = PublicationPolicy(every_examples=100, every_seconds=None)
    policy.on_examples(99)
    assert policy.poll() is None
    policy.on_examples(1)
    assert policy.poll() == "schedule"
    policy.resolve(accepted=False)
    policy.on_examples(99)
    assert policy.poll() is None


def test_schedule_by_time_needs_new_examples() -> None:
    clock = FakeClock()
    policy = PublicationPolicy(every_examples=None, every_seconds=60.0, clock=clock)
    clock.now = 120.0
    assert policy.poll() is None  # nothing new to publish
    policy.on_examples(1)
    assert policy.poll() == "schedule"
    policy.resolve(accepted=True)
    policy.on_examples(5)
    clock.now = 179.0
    assert policy.poll() is None
    clock.now = 180.0
    assert policy.poll() == "schedule"


def test_manual_has_priority() -> None:
    policy = PublicationPolicy(post_drift_examples=0, every_examples=1, every_seconds=None)
    policy.on_drift()
    policy.on_examples(5)
    policy.request()
    assert policy.poll() == "manual"
    policy.resolve(accepted=False)
    assert policy.poll() == "drift"


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="every_examples"):
        PublicationPolicy(every_examples=0)
    with pytest.raises(ValueError, match="every_seconds"):
        PublicationPolicy(every_seconds=0.0)
