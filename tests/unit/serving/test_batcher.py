from __future__ import annotations

import numpy as np

from serving import BatchOutput, RawRecord, build_outputs, split_batch


def _rec(offset: int, key: bytes | None, value: bytes) -> RawRecord:
    return RawRecord("texts", 1, offset, key, value, received_ns=0)


def test_split_and_build_outputs_one_prediction_per_valid_event() -> None:
    records = [
        _rec(0, b"a", b'{"schema_version":1,"event_id":"a","text":"one"}'),
        _rec(1, b"b", b"\xff"),
        _rec(2, b"c", b'{"schema_version":1,"event_id":"c","text":"two","model":"m2"}'),
        _rec(3, b"d", b"x" * 5000),
    ]
    decoded = split_batch(records, max_event_bytes=1000, max_text_bytes=100)
    assert [e.event_id for _, e in decoded.valid] == ["a", "c"]
    assert [d.reason.split(":")[0] for d in decoded.dead] == ["invalid_utf8", "oversized"]
    assert decoded.dead[1].raw == "", "oversized payloads are not copied into the dead letter"
    assert decoded.dead[0].offset == 1
    out = BatchOutput(
        label_names=["x", "y"],
        labels=["y", "x"],
        probabilities=np.array([[0.2, 0.8], [0.9, 0.1]]),
        embeddings=np.ones((2, 4), dtype=np.float32),
    )
    preds, stored = build_outputs(decoded.valid, out, version=7, done_ns=2_000_000)
    assert [(p.event_id, p.label, p.model_version, p.model) for p in preds] == [
        ("a", "y", 7, "default"),
        ("c", "x", 7, "m2"),
    ]
    assert preds[0].scores == {"x": 0.2, "y": 0.8}
    assert preds[0].latency_ms == 2.0
    assert stored[1].text == "two" and stored[1].embedding.shape == (4,)
