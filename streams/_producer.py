"""The producer SDK (kafka-python): validate before sending, ``acks=all``, report rejects."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from kafka import KafkaProducer
from pydantic import ValidationError

from schemas import FeedbackEvent, Settings, TextEvent

Kind = Literal["texts", "feedback"]


class InvalidEvent(ValueError):
    """An event failed validation before it was sent."""


@dataclass
class ProduceReport:
    """What a bulk produce did."""

    sent: int = 0
    acked: int = 0
    failed: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected and every send was acknowledged."""
        return not self.rejected and self.failed == 0 and self.acked == self.sent


def parse_event(kind: Kind, line: str, settings: Settings) -> TextEvent | FeedbackEvent:
    """Validate one JSON line as an event of ``kind``; ``schema_version`` defaults to 1.

    Examples
    --------
    >>> parse_event("texts", '{"event_id": "e1", "text": "hello"}', Settings()).event_id
    'e1'
    >>> parse_event("texts", '{"event_id": "e1", "text": ""}', Settings())
    Traceback (most recent call last):
    ...
    streams._producer.InvalidEvent: text: String should have at least 1 character
    """
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise InvalidEvent(f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("a line must be a JSON object")
    obj.setdefault("schema_version", 1)
    cls = TextEvent if kind == "texts" else FeedbackEvent
    try:
        event = cls.model_validate(obj, strict=True)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidEvent(msgs) from None
    if isinstance(event, TextEvent):
        size = len(event.text.encode("utf-8"))
        if size > settings.max_text_bytes:
            raise InvalidEvent(f"text is {size} bytes > limit {settings.max_text_bytes}")
    if len(event.to_bytes()) > settings.max_event_bytes:
        raise InvalidEvent(f"event is larger than {settings.max_event_bytes} bytes")
    return event


class EventProducer:
    """Sends validated events, keyed by ``event_id``, to the contract's topics."""

    def __init__(self, settings: Settings, producer: KafkaProducer) -> None:
        self.settings = settings
        self.producer = producer

    def topic(self, kind: Kind) -> str:
        """Topic for a kind of event."""
        return self.settings.topics.texts if kind == "texts" else self.settings.topics.feedback

    def send(self, event: TextEvent | FeedbackEvent) -> object:
        """Send one event; returns the kafka-python future."""
        kind: Kind = "texts" if isinstance(event, TextEvent) else "feedback"
        return self.producer.send(
            self.topic(kind), key=event.event_id.encode("utf-8"), value=event.to_bytes()
        )

    def produce_lines(
        self,
        kind: Kind,
        lines: Iterable[str],
        on_line: Callable[[int], None] | None = None,
    ) -> ProduceReport:
        """Validate and send JSON lines; flush and count acknowledgements at the end."""
        report = ProduceReport()
        futures = []
        for number, line in enumerate(lines, start=1):
            if on_line is not None:
                on_line(number)
            if not line.strip():
                continue
            try:
                event = parse_event(kind, line, self.settings)
            except InvalidEvent as exc:
                report.rejected.append((number, str(exc)))
                continue
            futures.append(self.send(event))
            report.sent += 1
        self.producer.flush()
        for fut in futures:
            if fut.failed():  # type: ignore[attr-defined]
                report.failed += 1
            else:
                report.acked += 1
        return report
