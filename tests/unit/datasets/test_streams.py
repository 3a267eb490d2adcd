"""Stream builders: order, determinism, and the designed changes."""

from __future__ import annotations

import collections

import pytest

import streams.datasets as ds
from streams.datasets import LabelledText, Tweet


def _toy_pool(labels: str = "abcd", per_label: int = 300) -> list[LabelledText]:
    # The text ends with the source label, so a test can tell the true source of an event.
    return [LabelledText(f"{c}{i}", f"t{i} {c}", c, i) for c in labels for i in range(per_label)]


def _source(e: LabelledText) -> str:
    return e.text[-1]


def test_exports_are_complete() -> None:
    public = {n for n in vars(ds) if not n.startswith("_")} - {"annotations"}
    assert set(ds.__all__) == public - {n for n in public if isinstance(getattr(ds, n), type(ds))}
    for name in ds.__all__:
        assert getattr(ds, name) is not None


def test_natural_is_time_ordered_and_filtered() -> None:
    s = ds.natural(outlets=ds.DEMO_OUTLETS, start_ms=ds.DEMO_START_MS, limit=2000)
    assert len(s) == 2000
    assert set(s.labels) == set(ds.DEMO_OUTLETS)
    assert [e.t for e in s] == sorted(e.t for e in s)
    assert s.events[0].t >= ds.DEMO_START_MS
    assert s.change_points == ()
    assert set(s.descriptions) == set(s.labels)


def test_natural_on_a_given_corpus() -> None:
    corpus = [Tweet(3, 30, "a", "x"), Tweet(1, 10, "b", "y"), Tweet(2, 10, "a", "z")]
    s = ds.natural(tweets=corpus, start_ms=10)
    assert [e.event_id for e in s] == ["ht-1", "ht-2", "ht-3"]
    assert s.labels == ("b", "a")


def test_natural_rejects_unknown_outlet() -> None:
    with pytest.raises(ValueError, match="valid"):
        ds.natural(outlets=["nosuchhealth"])


def test_abrupt_remap_changes_every_label_after_the_change_only() -> None:
    s = ds.abrupt(pool=_toy_pool(), n_events=400, change_at=150, seed=7)
    assert s.change_points == (150,)
    assert all(e.label == _source(e) for e in s.events[:150])
    assert all(e.label != _source(e) for e in s.events[150:])
    shift = {_source(e): e.label for e in s.events[150:]}
    assert shift == {"a": "b", "b": "c", "c": "d", "d": "a"}
    assert len({e.event_id for e in s}) == len(s)


def test_abrupt_is_deterministic_per_seed() -> None:
    pool = _toy_pool()
    assert ds.abrupt(pool=pool, n_events=200, seed=1) == ds.abrupt(pool=pool, n_events=200, seed=1)
    assert ds.abrupt(pool=pool, n_events=200, seed=1) != ds.abrupt(pool=pool, n_events=200, seed=2)


def test_abrupt_new_label_appears_only_after_the_change() -> None:
    s = ds.abrupt(pool=_toy_pool(), n_events=400, change_at=200, kind="new_label", new=["a"])
    assert "a" not in {e.label for e in s.events[:200]}
    assert collections.Counter(e.label for e in s.events[200:])["a"] > 20
    assert all(e.label == _source(e) for e in s)


@pytest.mark.parametrize("change_at", [0, 400, -1])
def test_abrupt_rejects_change_outside_the_stream(change_at: int) -> None:
    with pytest.raises(ValueError, match="change_at"):
        ds.abrupt(pool=_toy_pool(), n_events=400, change_at=change_at)


def test_running_out_of_records_is_an_error_not_a_silent_mix_change() -> None:
    with pytest.raises(ValueError, match="ran out"):
        ds.abrupt(pool=_toy_pool(per_label=10), n_events=100)


def test_gradual_ramps_from_a_to_b() -> None:
    s = ds.gradual(pool=_toy_pool(per_label=600), n_events=1200, start=300, width=600, seed=3)
    remapped = [e.label != _source(e) for e in s]
    assert (s.change_points, s.drift_width) == ((300,), 600)
    assert not any(remapped[:300])
    assert all(remapped[900:])
    early, late = sum(remapped[300:600]), sum(remapped[600:900])
    assert 0 < early < late < 300


def test_real_abrupt_stream_uses_demo_outlets() -> None:
    s = ds.abrupt(n_events=600, seed=0)
    assert set(s.labels) == set(ds.DEMO_OUTLETS)
    assert s.params["corpus"] == "healthtweets"
    assert all(e.text for e in s)


def test_make_stream_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="abrupt, bbc, gradual, natural"):
        ds.make_stream("sudden")
    s = ds.make_stream("gradual", pool=_toy_pool(), n_events=90)
    assert s.name == "gradual"
    assert len(s) == 90
