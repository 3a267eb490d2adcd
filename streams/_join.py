"""The feedback join: feedback + prediction record → labelled example, and the pending buffer.

Pure: no Kafka, no Redis. Feedback can overtake its prediction (two topics, two
consumers), so feedback whose record is not there yet waits in a :class:`PendingBuffer`
that is bounded in size and in time; whatever leaves it unjoined goes to the dead letter.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from learners._examples import Example, Source
from schemas import FeedbackEvent
from serving._records import PredictionRecord

T = TypeVar("T")

#: Dead-letter reason codes of the join (beside the codec's ``schemas.REASONS``).
JOIN_TIMEOUT = "join_timeout"
PENDING_OVERFLOW = "pending_overflow"
MODEL_MISMATCH = "model_mismatch"


def join(feedback: FeedbackEvent, record: PredictionRecord, source: Source | None) -> Example:
    """Join one feedback to the prediction record it judges, giving a labelled example.

    The text, embedding and predicting model version come from the record; label,
    user and weight from the feedback.

    Examples
    --------
    >>> import numpy as np
    >>> rec = PredictionRecord("e1", "default", 3, "good film", "negative", {}, np.ones(2), 0)
    >>> ex = join(FeedbackEvent(event_id="e1", label="positive", user_id="u"), rec, None)
    >>> ex.text, ex.label, ex.model_version, ex.user_id
    ('good film', 'positive', 3, 'u')
    """
    if feedback.event_id != record.event_id:
        raise ValueError(f"feedback {feedback.event_id!r} joined to record {record.event_id!r}")
    return Example(
        event_id=feedback.event_id,
        text=record.text,
        label=feedback.label,
        embedding=record.embedding,
        user_id=feedback.user_id,
        weight=feedback.weight,
        model_version=record.model_version,
        source=source,
    )


@dataclass(frozen=True, slots=True)
class Waiting(Generic[T]):
    """One entry of the pending buffer: the item, the event id it waits for, its deadline."""

    event_id: str
    item: T
    deadline: float


class PendingBuffer(Generic[T]):
    """Items waiting for their prediction record, bounded by ``max_items`` and ``ttl_s``.

    Entries are keyed by a caller-chosen unique token (a topic/partition/offset), since the
    same ``event_id`` may wait more than once (duplicate feedback). Insertion order is
    deadline order, because every entry gets the same TTL and the clock is monotonic.

    Examples
    --------
    >>> now = [0.0]
    >>> buf = PendingBuffer[str](max_items=2, ttl_s=10.0, clock=lambda: now[0])
    >>> buf.add(("fb", 0, 1), "e1", "a")
    []
    >>> buf.add(("fb", 0, 2), "e2", "b")
    []
    >>> [w.item for w in buf.add(("fb", 0, 3), "e3", "c")]  # full: the oldest is evicted
    ['a']
    >>> now[0] = 10.5
    >>> [w.item for w in buf.expire()]
    ['b', 'c']
    >>> len(buf)
    0
    """

    def __init__(
        self, max_items: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self.max_items = max_items
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: OrderedDict[Hashable, Waiting[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[Hashable, Waiting[T]]]:
        return iter(list(self._entries.items()))

    def event_ids(self) -> list[str]:
        """List the distinct event ids waited for, oldest first."""
        return list(dict.fromkeys(w.event_id for w in self._entries.values()))

    def add(self, token: Hashable, event_id: str, item: T) -> list[Waiting[T]]:
        """Park an item; returns the entries evicted to make room (oldest first)."""
        if token in self._entries:
            raise KeyError(f"token {token!r} is already pending")
        evicted: list[Waiting[T]] = []
        while len(self._entries) >= self.max_items:
            evicted.append(self._entries.popitem(last=False)[1])
        self._entries[token] = Waiting(event_id, item, self.clock() + self.ttl_s)
        return evicted

    def pop(self, token: Hashable) -> Waiting[T]:
        """Remove and return one entry (it was joined)."""
        return self._entries.pop(token)

    def expire(self) -> list[Waiting[T]]:
        """Remove and return every entry whose deadline has passed (oldest first)."""
        now = self.clock()
        expired: list[Waiting[T]] = []
        while self._entries:
            token, first = next(iter(self._entries.items()))
            if first.deadline > now:
                break
            del self._entries[token]
            expired.append(first)
        return expired
