from __future__ import annotations

import numpy as np
import pytest

from learners._examples import Source
from schemas import FeedbackEvent
from serving._records import PredictionRecord
from streams._join import PendingBuffer, join


def _rec(event_id: str) -> PredictionRecord:
    return PredictionRecord(event_id, "default", 4, "txt", "a", {"a": 1.0}, np.ones(3, "f4"), 1)


def test_join_takes_text_from_record_and_label_from_feedback() -> None:
    fb = FeedbackEvent(event_id="e", label="b", user_id="u", weight=2.0)
    ex = join(fb, _rec("e"), Source("fb", 1, 9))
    assert (ex.text, ex.label, ex.weight, ex.model_version) == ("txt", "b", 2.0, 4)
    assert ex.source == Source("fb", 1, 9)
    assert ex.embedding is not None and ex.embedding.shape == (3,)


def test_join_refuses_mismatched_ids() -> None:
    with pytest.raises(ValueError, match="joined to record"):
        join(FeedbackEvent(event_id="x", label="b"), _rec("y"), None)


def test_pending_expires_by_deadline_and_keeps_young_entries() -> None:
    now = [0.0]
    buf = PendingBuffer[int](max_items=10, ttl_s=5.0, clock=lambda: now[0])
    buf.add(1, "e1", 1)
    now[0] = 3.0
    buf.add(2, "e2", 2)
    now[0] = 5.0
    assert [w.item for w in buf.expire()] == [1]
    assert buf.event_ids() == ["e2"]
    now[0] = 7.9
    assert buf.expire() == []
    now[0] = 8.0
    assert [w.item for w in buf.expire()] == [2]


def test_pending_overflow_evicts_oldest_and_pop_removes() -> None:
    buf = PendingBuffer[str](max_items=2, ttl_s=60.0, clock=lambda: 0.0)
    buf.add("t1", "e", "first")
    buf.add("t2", "e", "dup")  # the same event id may wait twice
    assert [w.item for w in buf.add("t3", "f", "third")] == ["first"]
    assert buf.pop("t2").item == "dup"
    assert len(buf) == 1
    with pytest.raises(KeyError):
        buf.add("t3", "f", "again")


def test_pending_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="max_items"):
        PendingBuffer[int](0, 1.0)
    with pytest.raises(ValueError, match="ttl_s"):
        PendingBuffer[int](1, 0.0)
