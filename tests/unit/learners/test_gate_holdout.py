"""Unit tests of the holdout policy and window."""

from __future__ import annotations

import pytest

from learners.gate import Holdout, HoldoutPolicy


def test_policy_is_deterministic_and_about_one_in_modulus() -> None:
    policy = HoldoutPolicy(modulus=10)
    first = [policy.holds_out(f"event-{i}") for i in range(5000)]
    again = [HoldoutPolicy(modulus=10).holds_out(f"event-{i}") for i in range(5000)]
    assert first == again
    assert 400 < sum(first) < 600


def test_residues_partition_the_ids() -> None:
    ids = [f"e{i}" for i in range(200)]
    chosen = [sum(HoldoutPolicy(4, r).holds_out(e) for r in range(4)) for e in ids]
    assert chosen == [1] * 200


def test_invalid_policy() -> None:
    with pytest.raises(ValueError, match="residue"):
        HoldoutPolicy(modulus=10, residue=10)


def test_window_is_bounded_deduplicated_and_newest_last() -> None:
    holdout = Holdout[int](HoldoutPolicy(modulus=1), max_size=3)
    for i in range(5):
        assert holdout.offer(f"e{i}", i, "pos" if i % 2 else "neg")
    assert holdout.offer("e4", 4, "pos")  # a replay: held out again, stored once
    recent = holdout.recent()
    assert recent.examples == (2, 3, 4)
    assert recent.labels == ("neg", "pos", "neg")
    assert len(holdout) == 3
    assert holdout.recent(limit=2).examples == (3, 4)
    assert len(holdout.recent(limit=0)) == 0


def test_training_examples_are_not_stored() -> None:
    policy = HoldoutPolicy(modulus=10)
    holdout = Holdout[str](policy)
    ids = [f"e{i}" for i in range(100)]
    held = [holdout.offer(e, e, "x") for e in ids]
    assert held == [policy.holds_out(e) for e in ids]
    assert list(holdout.recent().examples) == [e for e, h in zip(ids, held, strict=True) if h]


def test_trusted_set() -> None:
    holdout = Holdout[str](trusted=[("gold text", "pos"), ("bad text", "neg")])
    assert holdout.trusted is not None
    assert holdout.trusted.labels == ("pos", "neg")
    assert Holdout[str]().trusted is None
