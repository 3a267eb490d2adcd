"""Prediction records in Redis: what the feedback join needs, kept for a TTL.

Key: ``{redis_prefix}pred:{event_id}`` (feedback names only the event), a hash with fields
``model``, ``text``, ``label``,
``scores`` (JSON), ``model_version``, ``embedding`` (raw little-endian float32 bytes),
``ts`` (epoch ms). Written before the prediction is published, so feedback that
follows a prediction always finds its record (until the TTL).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import redis


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What serving stored about one prediction."""

    event_id: str
    model: str
    model_version: int
    text: str
    label: str
    scores: dict[str, float]
    embedding: np.ndarray
    timestamp: int

    def to_mapping(self) -> dict[str, bytes | str | int]:
        """Hash fields as written to Redis."""
        return {
            "model": self.model,
            "text": self.text,
            "label": self.label,
            "scores": json.dumps(self.scores, separators=(",", ":")),
            "model_version": self.model_version,
            "embedding": np.asarray(self.embedding, dtype="<f4").tobytes(),
            "ts": self.timestamp,
        }

    @classmethod
    def from_mapping(cls, event_id: str, raw: dict[bytes, bytes]) -> PredictionRecord:
        """Parse the hash read back from Redis."""
        return cls(
            event_id=event_id,
            model=raw[b"model"].decode("utf-8"),
            model_version=int(raw[b"model_version"]),
            text=raw[b"text"].decode("utf-8"),
            label=raw[b"label"].decode("utf-8"),
            scores={str(k): float(v) for k, v in json.loads(raw[b"scores"]).items()},
            embedding=np.frombuffer(raw[b"embedding"], dtype="<f4").copy(),
            timestamp=int(raw[b"ts"]),
        )


class RecordStore:
    """Reads and writes prediction records under one key prefix."""

    def __init__(self, client: redis.Redis[bytes], prefix: str, ttl_s: int) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s

    def key(self, event_id: str) -> str:
        """The Redis key of one record."""
        return f"{self.prefix}pred:{event_id}"

    def put_many(self, records: Sequence[PredictionRecord]) -> None:
        """Write records in one round trip (pipeline, not a transaction: each is idempotent)."""
        if not records:
            return
        pipe = self.client.pipeline(transaction=False)
        for rec in records:
            key = self.key(rec.event_id)
            pipe.hset(key, mapping=rec.to_mapping())  # type: ignore[arg-type]
            pipe.expire(key, self.ttl_s)
        pipe.execute()

    def get(self, event_id: str) -> PredictionRecord | None:
        """One record, or ``None`` when it was never written or has expired."""
        raw = self.client.hgetall(self.key(event_id))
        if not raw:
            return None
        return PredictionRecord.from_mapping(event_id, raw)

    def get_many(self, event_ids: Sequence[str]) -> list[PredictionRecord | None]:
        """Several records in one round trip, in the order asked."""
        pipe = self.client.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.hgetall(self.key(event_id))
        out: list[PredictionRecord | None] = []
        for event_id, raw in zip(event_ids, pipe.execute(), strict=True):
            out.append(PredictionRecord.from_mapping(event_id, raw) if raw else None)
        return out
