"""A labelled example: what the feedback join hands the learner."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Source:
    """Where an example came from on the feedback stream, for the offsets a checkpoint covers."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text.

    ``embedding`` is the L2-normalised pooled embedding serving stored in the prediction
    record (float32, or ``None`` when unknown); the ``head`` scope trains on it directly.
    ``weight`` scales the example's loss. ``model_version`` is the version that predicted it.

    Examples
    --------
    >>> Example("e1", "great film", "positive").weight
    1.0
    >>> Example("e1", "x", "positive", weight=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: example e1: weight must be finite and > 0, got -1.0
    """

    event_id: str
    text: str
    label: str
    embedding: np.ndarray | None = None
    user_id: str | None = None
    weight: float = 1.0
    model_version: int = 0
    source: Source | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(
                f"example {self.event_id}: weight must be finite and > 0, got {self.weight}"
            )
        if not self.label:
            raise ValueError(f"example {self.event_id}: empty label")
        if self.embedding is not None and self.embedding.ndim != 1:
            raise ValueError(
                f"example {self.event_id}: embedding must be 1-D, got shape {self.embedding.shape}"
            )


def offset_key(topic: str, partition: int) -> str:
    """The manifest's key for one topic partition.

    Examples
    --------
    >>> offset_key("streamtune.feedback", 2)
    'streamtune.feedback:2'
    """
    return f"{topic}:{partition}"


def offsets_covered(
    examples: Iterable[Example], previous: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Next offset to consume per ``topic:partition``, merging ``previous`` with these examples.

    The value is the Kafka convention: one past the last offset included.

    Examples
    --------
    >>> ex = [Example("a", "t", "x", source=Source("fb", 0, 7)),
    ...       Example("b", "t", "x", source=Source("fb", 0, 5))]
    >>> offsets_covered(ex, {"fb:0": 3, "fb:1": 9})
    {'fb:0': 8, 'fb:1': 9}
    """
    out = dict(previous or {})
    for ex in examples:
        if ex.source is None:
            continue
        key = offset_key(ex.source.topic, ex.source.partition)
        out[key] = max(out.get(key, 0), ex.source.offset + 1)
    return out
