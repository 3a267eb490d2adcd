"""pydantic v2 models of every event on the wire (schema version 1).

Models are strict (no type coercion), frozen, and forbid unknown fields, so what a
consumer accepts is exactly what the contract in ``DESIGN.md`` says.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({SCHEMA_VERSION})

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=False)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
EpochMs = Annotated[int, Field(ge=0)]


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the contract's timestamp unit."""
    return time.time_ns() // 1_000_000


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    schema_version: Literal[1] = 1

    def to_bytes(self) -> bytes:
        """Serialise as compact UTF-8 JSON, the wire format."""
        return self.model_dump_json(exclude_none=True).encode("utf-8")


class TextEvent(_Event):
    """A new text to classify, on ``streamtune.texts``.

    The text's UTF-8 size limit is configurable, so it is checked by the codec, which
    knows the settings; the model checks that it is non-empty.

    Examples
    --------
    >>> TextEvent(event_id="e1", text="flu season starts early").model
    'default'
    """

    event_id: EventId
    text: Annotated[str, StringConstraints(min_length=1)]
    model: Name = "default"
    timestamp: EpochMs | None = None
    metadata: dict[str, str | int | float] | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        return value


class FeedbackEvent(_Event):
    """A user's label for a text it was shown a prediction for, on ``streamtune.feedback``.

    Examples
    --------
    >>> FeedbackEvent(event_id="e1", label="health", weight=2).weight
    2.0
    """

    event_id: EventId
    label: Label
    user_id: Name | None = None
    timestamp: EpochMs | None = None
    weight: float = Field(default=1.0, gt=0.0, le=100.0)

    @field_validator("weight", mode="before")
    @classmethod
    def _int_weight(cls, value: object) -> object:
        # JSON has one number type; 2 and 2.0 mean the same weight.
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class Prediction(_Event):
    """A live prediction, on ``streamtune.predictions``."""

    event_id: EventId
    model: Name
    model_version: Annotated[int, Field(ge=0)]
    label: Label
    scores: dict[str, float]
    latency_ms: Annotated[float, Field(ge=0.0)]
    timestamp: EpochMs


class DriftAlert(_Event):
    """A drift detection and the action taken, on ``streamtune.drift-alerts``."""

    model: Name
    model_version: Annotated[int, Field(ge=0)]
    detector: Name
    signal: Name
    value: float
    examples_seen: Annotated[int, Field(ge=0)]
    timestamp: EpochMs
    action: Name
    details: dict[str, str | int | float | bool | None] | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("value must be finite")
        return value


UpdateReason = Literal["drift", "schedule", "rollback", "initial"]


class ModelUpdate(_Event):
    """A published model version, on ``streamtune.model-updates``."""

    model: Name
    version: Annotated[int, Field(ge=0)]
    uri: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    sha256: Sha256
    reason: UpdateReason
    metrics: dict[str, float]
    timestamp: EpochMs
    parent_version: Annotated[int, Field(ge=0)] | None = None


class DeadLetter(_Event):
    """Anything invalid, with the reason and the original bytes, on ``streamtune.dead-letter``.

    ``reason`` starts with a stable code (see :mod:`schemas._codec`), then ``": "`` and detail.
    """

    source_topic: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    partition: Annotated[int, Field(ge=-1)]
    offset: Annotated[int, Field(ge=-1)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    raw: str
    timestamp: EpochMs


Event = TextEvent | FeedbackEvent | Prediction | DriftAlert | ModelUpdate | DeadLetter
