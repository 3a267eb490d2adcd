from __future__ import annotations

from typing import Any

import pytest

from schemas import FeedbackEvent, Settings, TextEvent
from streams._producer import EventProducer, InvalidEvent, parse_event
from streams._tail import render


class _Future:
    def __init__(self, fail: bool) -> None:
        self._fail = fail

    def failed(self) -> bool:
        return self._fail


class _RecordingProducer:
    """Stands in for KafkaProducer in a pure unit test of the SDK's own logic."""

    def __init__(self, fail_every: int = 0) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail_every = fail_every
        self.flushed = False

    def send(self, topic: str, key: bytes, value: bytes) -> _Future:
        self.sent.append((topic, key, value))
        return _Future(bool(self.fail_every) and len(self.sent) % self.fail_every == 0)

    def flush(self) -> None:
        self.flushed = True


def test_parse_fills_schema_version_and_validates() -> None:
    s = Settings()
    assert isinstance(parse_event("texts", '{"event_id":"a","text":"t"}', s), TextEvent)
    fb = parse_event("feedback", '{"event_id":"a","label":"x","user_id":"u"}', s)
    assert isinstance(fb, FeedbackEvent)
    with pytest.raises(InvalidEvent, match="malformed JSON"):
        parse_event("texts", "{", s)
    with pytest.raises(InvalidEvent, match="limit"):
        parse_event(
            "texts", '{"event_id":"a","text":"' + "x" * 40 + '"}', Settings(max_text_bytes=8)
        )
    with pytest.raises(InvalidEvent):
        parse_event("texts", '{"event_id":"a","text":"t","schema_version":2}', s)


def test_produce_lines_reports_rejects_and_sends_the_rest() -> None:
    s = Settings()
    fake: Any = _RecordingProducer()
    lines = [
        '{"event_id":"a","text":"one"}',
        "not json",
        "",
        '{"event_id":"b","text":""}',
        '{"event_id":"c","text":"three"}',
    ]
    report = EventProducer(s, fake).produce_lines("texts", lines)
    assert [k for _, k, _ in fake.sent] == [b"a", b"c"]
    assert all(t == s.topics.texts for t, _, _ in fake.sent)
    assert [n for n, _ in report.rejected] == [2, 4]
    assert (report.sent, report.acked, report.failed) == (2, 2, 0)
    assert fake.flushed
    assert not report.ok


def test_failed_acks_are_counted() -> None:
    fake: Any = _RecordingProducer(fail_every=2)
    lines = [f'{{"event_id":"e{i}","label":"x"}}' for i in range(4)]
    report = EventProducer(Settings(), fake).produce_lines("feedback", lines)
    assert (report.acked, report.failed) == (2, 2)
    assert not report.ok


def test_render_passes_json_and_wraps_garbage() -> None:
    assert render(b'{"b": 2}') == '{"b":2}'
    assert render(b"{") == '{"_undecodable":"ew=="}'
