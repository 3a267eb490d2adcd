"""Test helpers: read a topic until a condition holds, with a deadline (never a sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer

from schemas import Settings
from streams._tail import open_tail


class TopicReader:
    """Accumulates every record of a topic from the beginning, group-less."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer: KafkaConsumer = open_tail(settings, topic, from_beginning=True)
        self.records: list[Any] = []

    def poll(self) -> int:
        """Fetch what is there now; returns how many arrived."""
        n = 0
        for records in self.consumer.poll(timeout_ms=200).values():
            self.records.extend(records)
            n += len(records)
        return n

    def until(
        self,
        done: Callable[[list[Any]], bool],
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> list[Any]:
        """Poll until ``done(records)`` or the deadline; returns the records either way."""
        deadline = time.monotonic() + timeout
        while not done(self.records) and time.monotonic() < deadline:
            self.poll()
            if tick is not None:
                tick()
        return self.records

    def close(self) -> None:
        """Close the consumer."""
        self.consumer.close()
