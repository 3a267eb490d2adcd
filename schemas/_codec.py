"""Decode raw Kafka records into events, or into a rejection with a stable reason code.

Pure: bytes in, a typed event or a :class:`Rejection` out. The consumers turn a
rejection into a :class:`~schemas._events.DeadLetter` record.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas._events import (
    SUPPORTED_SCHEMA_VERSIONS,
    DeadLetter,
    FeedbackEvent,
    TextEvent,
    now_ms,
)

E = TypeVar("E", bound=BaseModel)

#: Every reason code a rejection can carry, so dashboards and tests can rely on them.
REASONS = (
    "empty_value",
    "oversized",
    "invalid_utf8",
    "malformed_json",
    "not_an_object",
    "unknown_schema_version",
    "invalid_fields",
    "text_too_large",
    "missing_key",
    "key_mismatch",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was refused: a code from :data:`REASONS` and a human detail."""

    code: str
    detail: str = ""

    @property
    def reason(self) -> str:
        """``code: detail``, the dead-letter ``reason`` field."""
        return f"{self.code}: {self.detail}" if self.detail else self.code


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decode(
    cls: type[E], key: bytes | None, value: bytes | None, max_event_bytes: int
) -> E | Rejection:
    if value is None or len(value) == 0:
        return Rejection("empty_value", "record has no value")
    if len(value) > max_event_bytes:
        return Rejection("oversized", f"{len(value)} bytes > limit {max_event_bytes}")
    try:
        text = value.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"byte {exc.start}: {exc.reason}")
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        return Rejection("malformed_json", str(exc)[:200])
    if not isinstance(obj, dict):
        return Rejection("not_an_object", f"top-level JSON is {type(obj).__name__}")
    version = obj.get("schema_version")
    if (
        not isinstance(version, int)
        or isinstance(version, bool)
        or version not in SUPPORTED_SCHEMA_VERSIONS
    ):
        supported = sorted(SUPPORTED_SCHEMA_VERSIONS)
        return Rejection("unknown_schema_version", f"{version!r} not in {supported}")
    try:
        event = cls.model_validate(obj, strict=True)
    except ValidationError as exc:
        return Rejection("invalid_fields", _summarise(exc))
    event_id = getattr(event, "event_id", None)
    if event_id is not None:
        if key is None:
            return Rejection("missing_key", "the record key must be the event_id")
        try:
            key_text = key.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            return Rejection("key_mismatch", "key is not UTF-8")
        if key_text != event_id:
            return Rejection("key_mismatch", "record key differs from event_id")
    return event


def _summarise(exc: ValidationError) -> str:
    # Field locations and messages only: never echo the (possibly huge or secret) input.
    parts = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts)[:500]


def decode_text(
    key: bytes | None, value: bytes | None, *, max_event_bytes: int, max_text_bytes: int
) -> TextEvent | Rejection:
    r"""Decode a ``streamtune.texts`` record.

    Examples
    --------
    >>> ok = decode_text(b"e1", b'{"schema_version":1,"event_id":"e1","text":"hi"}',
    ...                  max_event_bytes=1024, max_text_bytes=16)
    >>> ok.text
    'hi'
    >>> decode_text(b"e1", b"\xff", max_event_bytes=1024, max_text_bytes=16).code
    'invalid_utf8'
    >>> decode_text(b"e1", b'{"schema_version":2}', max_event_bytes=1024, max_text_bytes=16).code
    'unknown_schema_version'
    """
    event = _decode(TextEvent, key, value, max_event_bytes)
    if isinstance(event, TextEvent):
        size = len(event.text.encode("utf-8"))
        if size > max_text_bytes:
            return Rejection("text_too_large", f"text is {size} bytes > limit {max_text_bytes}")
    return event


def decode_feedback(
    key: bytes | None, value: bytes | None, *, max_event_bytes: int
) -> FeedbackEvent | Rejection:
    """Decode a ``streamtune.feedback`` record.

    Examples
    --------
    >>> decode_feedback(b"e1", b'{"schema_version":1,"event_id":"e1"}', max_event_bytes=99).code
    'invalid_fields'
    """
    return _decode(FeedbackEvent, key, value, max_event_bytes)


def dead_letter(
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    raw: bytes | None,
    max_raw_bytes: int | None = None,
) -> DeadLetter:
    """Build the dead-letter record for a rejected input record.

    A payload longer than ``max_raw_bytes`` is not copied (``raw`` is empty): the dead
    letter would be oversized too, and a producer refusing it would stop the consumer on
    that record. Its topic/partition/offset say where to find it.

    Examples
    --------
    >>> dl = dead_letter(Rejection("malformed_json", "x"), topic="t", partition=0, offset=7,
    ...                  raw=b"{")
    >>> dl.reason, dl.raw
    ('malformed_json: x', 'ew==')
    >>> dead_letter(Rejection("oversized"), topic="t", partition=0, offset=8, raw=b"{...}",
    ...             max_raw_bytes=4).raw
    ''
    """
    if raw is not None and max_raw_bytes is not None and len(raw) > max_raw_bytes:
        raw = b""
    return DeadLetter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        reason=rejection.reason,
        raw=base64.b64encode(raw or b"").decode("ascii"),
        timestamp=now_ms(),
    )
