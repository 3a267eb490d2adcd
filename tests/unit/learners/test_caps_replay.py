"""Per-user caps, the replay buffer and example helpers: pure logic, no model."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from learners import (
    Example,
    ReplayBuffer,
    Source,
    cap_per_user,
    offsets_covered,
    replay_count,
    user_cap,
)


def ex(i: int, label: str = "a", user: str | None = None) -> Example:
    return Example(f"e{i}", f"text {i}", label, user_id=user)


def test_cap_downweights_one_user_to_the_cap() -> None:
    batch = [ex(i, user="flood") for i in range(6)] + [ex(10 + i, user=f"u{i}") for i in range(6)]
    result = cap_per_user(batch, 0.25)
    assert [e.event_id for e in result.kept] == [e.event_id for e in batch]
    flood = [e.weight for e in result.kept if e.user_id == "flood"]
    assert sum(flood) == pytest.approx(2.0)  # a quarter of 2 + 6: six weigh as much as two
    assert [e.weight for e in result.kept if e.user_id != "flood"] == [1.0] * 6
    assert result.downweighted == ("e0", "e1", "e2", "e3", "e4", "e5")
    assert result.top_user_share == pytest.approx(0.25)
    assert not result.dropped


def test_cap_bounds_declared_weight_not_just_counts() -> None:
    # One feedback declaring weight 100 must not outweigh the batch.
    heavy = Example("h", "t", "a", user_id="flood", weight=100.0)
    batch = [heavy] + [ex(i, user=f"u{i}") for i in range(9)]
    result = cap_per_user(batch, 0.25)
    assert result.kept[0].weight == pytest.approx(3.0)  # 3 / (3 + 9) = 0.25
    assert result.top_user_share == pytest.approx(0.25)


def test_cap_out_of_reach_no_user_outweighs_another() -> None:
    # Three users cannot each hold a quarter: the flood weighs as much as the lightest.
    batch = [ex(i, user="flood") for i in range(6)] + [ex(10, user="x"), ex(11, user="y")]
    result = cap_per_user(batch, 0.25)
    assert sum(e.weight for e in result.kept if e.user_id == "flood") == pytest.approx(1.0)
    assert result.top_user_share == pytest.approx(1 / 3)


def test_cap_never_drops_anonymous_or_below_one() -> None:
    batch = [ex(i) for i in range(5)] + [ex(9, user="solo")]
    result = cap_per_user(batch, 0.01)
    assert len(result.kept) == 6 and not result.dropped


def test_cap_share_of_one_keeps_everything() -> None:
    batch = [ex(i, user="u") for i in range(7)]
    assert len(cap_per_user(batch, 1.0).kept) == 7


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_cap_rejects_bad_share(share: float) -> None:
    with pytest.raises(ValueError, match="max_user_share"):
        user_cap(10, share)


def test_replay_balances_labels_under_skew() -> None:
    buf = ReplayBuffer(capacity=20, seed=1)
    buf.add([ex(i, "common") for i in range(1000)] + [ex(2000 + i, "rare") for i in range(5)])
    assert buf.counts() == {"common": 10, "rare": 5}
    drawn = Counter(e.label for e in buf.sample(100))
    assert drawn == {"common": 50, "rare": 50}


def test_replay_reservoir_is_roughly_uniform_over_the_stream() -> None:
    buf = ReplayBuffer(capacity=200, seed=3)
    buf.add(ex(i) for i in range(10_000))
    held = np.array([int(e.event_id[1:]) for e in buf.sample(2000)])
    assert len(set(held.tolist())) <= 200 == len(buf)
    # A uniform sample of 0..9999 has mean ~5000 (sd of the mean of 200 items ~200).
    assert 4000 < held.mean() < 6000


def test_replay_is_seeded() -> None:
    def run(seed: int) -> list[str]:
        buf = ReplayBuffer(capacity=8, seed=seed)
        buf.add(ex(i, "ab"[i % 2]) for i in range(100))
        return [e.event_id for e in buf.sample(10)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_replay_capacity_zero_holds_nothing() -> None:
    buf = ReplayBuffer(capacity=0)
    buf.add([ex(1)])
    assert len(buf) == 0 and buf.sample(3) == []


def test_replay_count() -> None:
    assert replay_count(0, 0.25) == 0
    assert replay_count(30, 0.5) == 30
    assert replay_count(3, 0.1) == 1


def test_offsets_covered_takes_max_plus_one() -> None:
    batch = [
        Example("a", "t", "x", source=Source("fb", 1, 41)),
        Example("b", "t", "x", source=Source("fb", 1, 40)),
        Example("c", "t", "x", source=Source("fb", 0, 2)),
        Example("d", "t", "x"),
    ]
    assert offsets_covered(batch, {"fb:0": 9}) == {"fb:0": 9, "fb:1": 42}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"weight": 0.0}, "weight"), ({"weight": float("nan")}, "weight"), ({"label": ""}, "label")],
)
def test_example_validation(kwargs: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {"event_id": "e", "text": "t", "label": "x"}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Example(**fields)  # type: ignore[arg-type]


def test_example_rejects_2d_embedding() -> None:
    with pytest.raises(ValueError, match="1-D"):
        Example("e", "t", "x", embedding=np.zeros((2, 3), dtype=np.float32))
