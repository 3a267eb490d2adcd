"""Pure batch logic for serving: decoded records in, outputs to publish out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas import DeadLetter, Prediction, Rejection, TextEvent, dead_letter, decode_text, now_ms
from serving._predictor import BatchOutput
from serving._records import PredictionRecord


@dataclass(frozen=True, slots=True)
class RawRecord:
    """The parts of a Kafka record that serving needs."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    received_ns: int
    timestamp_ms: int = -1  # the Kafka record's timestamp (producer create time), -1 unknown


@dataclass(frozen=True, slots=True)
class Decoded:
    """A batch split into valid events (with their records) and dead letters."""

    valid: list[tuple[RawRecord, TextEvent]]
    dead: list[DeadLetter]


def split_batch(
    records: Sequence[RawRecord], *, max_event_bytes: int, max_text_bytes: int
) -> Decoded:
    """Decode every record; invalid ones become dead letters with a reason.

    Examples
    --------
    >>> ok = RawRecord("t", 0, 1, b"a", b'{"schema_version":1,"event_id":"a","text":"x"}', 0)
    >>> bad = RawRecord("t", 0, 2, b"b", b"{oops", 0)
    >>> d = split_batch([ok, bad], max_event_bytes=1000, max_text_bytes=100)
    >>> [e.event_id for _, e in d.valid], [x.reason.split(":")[0] for x in d.dead]
    (['a'], ['malformed_json'])
    """
    valid: list[tuple[RawRecord, TextEvent]] = []
    dead: list[DeadLetter] = []
    for rec in records:
        event = decode_text(
            rec.key, rec.value, max_event_bytes=max_event_bytes, max_text_bytes=max_text_bytes
        )
        if isinstance(event, Rejection):
            raw = rec.value if rec.value is None or len(rec.value) <= max_event_bytes else b""
            # An oversized payload is not copied into the dead letter (it would be oversized
            # too); its topic/partition/offset say where to find it.
            dead.append(
                dead_letter(
                    event, topic=rec.topic, partition=rec.partition, offset=rec.offset, raw=raw
                )
            )
        else:
            valid.append((rec, event))
    return Decoded(valid, dead)


def build_outputs(
    valid: Sequence[tuple[RawRecord, TextEvent]],
    out: BatchOutput,
    *,
    version: int,
    done_ns: int,
) -> tuple[list[Prediction], list[PredictionRecord]]:
    """Predictions to publish and records to store, one per valid event.

    ``latency_ms`` is serving latency: from when this consumer received the record to when
    its prediction was ready (batching wait included).
    """
    names = out.label_names
    ts = now_ms()
    predictions: list[Prediction] = []
    stored: list[PredictionRecord] = []
    for i, (rec, event) in enumerate(valid):
        scores = {name: float(p) for name, p in zip(names, out.probabilities[i], strict=True)}
        predictions.append(
            Prediction(
                event_id=event.event_id,
                model=event.model,
                model_version=version,
                label=out.labels[i],
                scores=scores,
                latency_ms=max(0.0, (done_ns - rec.received_ns) / 1e6),
                timestamp=ts,
            )
        )
        stored.append(
            PredictionRecord(
                event_id=event.event_id,
                model=event.model,
                model_version=version,
                text=event.text,
                label=out.labels[i],
                scores=scores,
                embedding=out.embeddings[i],
                timestamp=ts,
            )
        )
    return predictions, stored
