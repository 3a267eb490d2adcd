from __future__ import annotations

import base64
import json

import pytest

from schemas import REASONS, Rejection, TextEvent, dead_letter, decode_feedback, decode_text


def _text(obj: object, key: bytes | None = b"e1", limit: int = 1024) -> TextEvent | Rejection:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return decode_text(key, raw, max_event_bytes=limit, max_text_bytes=64)


@pytest.mark.parametrize(
    ("raw", "key", "code"),
    [
        (None, b"e1", "empty_value"),
        (b"", b"e1", "empty_value"),
        (b"x" * 2000, b"e1", "oversized"),
        (b"\xff\xfe", b"e1", "invalid_utf8"),
        (b"{nope", b"e1", "malformed_json"),
        (b'{"schema_version": NaN}', b"e1", "malformed_json"),
        (b'"a string"', b"e1", "not_an_object"),
        (b'{"schema_version": 2, "event_id": "e1", "text": "x"}', b"e1", "unknown_schema_version"),
        (
            b'{"schema_version": true, "event_id": "e1", "text": "x"}',
            b"e1",
            "unknown_schema_version",
        ),
        (b'{"event_id": "e1", "text": "x"}', b"e1", "unknown_schema_version"),
        (b'{"schema_version": 1, "event_id": "e1", "text": 5}', b"e1", "invalid_fields"),
        (b'{"schema_version": 1, "event_id": "e1", "text": ""}', b"e1", "invalid_fields"),
        (b'{"schema_version": 1, "event_id": "", "text": "x"}', b"", "invalid_fields"),
        (b'{"schema_version": 1, "event_id": "e1", "text": "x", "z": 1}', b"e1", "invalid_fields"),
        (
            b'{"schema_version": 1, "event_id": "e1", "text": "' + b"y" * 65 + b'"}',
            b"e1",
            "text_too_large",
        ),
        (b'{"schema_version": 1, "event_id": "e1", "text": "x"}', None, "missing_key"),
        (b'{"schema_version": 1, "event_id": "e1", "text": "x"}', b"e2", "key_mismatch"),
        (b'{"schema_version": 1, "event_id": "e1", "text": "x"}', b"\xff", "key_mismatch"),
    ],
)
def test_every_bad_record_gets_its_reason(raw: bytes | None, key: bytes | None, code: str) -> None:
    result = decode_text(key, raw, max_event_bytes=1024, max_text_bytes=64)
    assert isinstance(result, Rejection)
    assert result.code == code
    assert code in REASONS


def test_valid_text_with_optional_fields() -> None:
    event = _text(
        {
            "schema_version": 1,
            "event_id": "e1",
            "text": "héllo",
            "timestamp": 5,
            "metadata": {"a": 1},
        }
    )
    assert isinstance(event, TextEvent)
    assert event.model == "default"
    assert event.metadata == {"a": 1}


def test_text_limit_counts_utf8_bytes_not_characters() -> None:
    # 22 three-byte characters = 66 bytes > 64, though only 22 characters.
    result = _text({"schema_version": 1, "event_id": "e1", "text": "€" * 22})
    assert isinstance(result, Rejection)
    assert result.code == "text_too_large"


def test_feedback_weight_and_label() -> None:
    ok = decode_feedback(
        b"e1", b'{"schema_version":1,"event_id":"e1","label":"x","weight":3}', max_event_bytes=999
    )
    assert not isinstance(ok, Rejection)
    assert ok.weight == 3.0
    bad = decode_feedback(
        b"e1", b'{"schema_version":1,"event_id":"e1","label":"x","weight":-1}', max_event_bytes=999
    )
    assert isinstance(bad, Rejection)
    assert bad.code == "invalid_fields"


def test_rejection_detail_never_echoes_the_input() -> None:
    secret = "s3cr3t-value-" + "q" * 20
    result = _text({"schema_version": 1, "event_id": "e1", "text": 1, "extra": secret})
    assert isinstance(result, Rejection)
    assert secret not in result.reason


def test_dead_letter_keeps_original_bytes() -> None:
    dl = dead_letter(Rejection("invalid_utf8", "x"), topic="t", partition=2, offset=9, raw=b"\xff")
    assert base64.b64decode(dl.raw) == b"\xff"
    assert (dl.partition, dl.offset, dl.source_topic) == (2, 9, "t")
    assert json.loads(dl.to_bytes())["schema_version"] == 1
