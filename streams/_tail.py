"""``streamtune tail``: print a topic's events as JSON lines, without joining a group."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from schemas import Settings
from streams._clients import make_consumer


def render(value: bytes | None) -> str:
    r"""One output line: the event's JSON as-is, or a wrapper when it is not JSON.

    Examples
    --------
    >>> render(b'{"a": 1}')
    '{"a":1}'
    >>> render(b"\xff")
    '{"_undecodable":"/w=="}'
    """
    try:
        return json.dumps(json.loads(value or b""), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        import base64

        raw = base64.b64encode(value or b"").decode("ascii")
        return json.dumps({"_undecodable": raw}, separators=(",", ":"))


def open_tail(
    settings: Settings, topic: str, from_beginning: bool, **overrides: Any
) -> KafkaConsumer:
    """A group-less consumer assigned to every partition of ``topic``, positioned now.

    Positions are resolved before returning, so every record produced from here on is
    seen. ``overrides`` go to the consumer (e.g. a short ``fetch_max_wait_ms`` for a
    measuring reader).
    """
    consumer = make_consumer(settings, [], None, **overrides)
    deadline = time.monotonic() + 10
    parts: Any = None
    # kafka-python answers None or an empty set for a topic it does not know (yet).
    while not parts and time.monotonic() < deadline:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            time.sleep(0.1)  # polling interval while the metadata arrives
    if not parts:
        consumer.close()
        raise KeyError(f"topic {topic!r} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    if from_beginning:
        consumer.seek_to_beginning(*tps)
    else:
        consumer.seek_to_end(*tps)
    for tp in tps:
        consumer.position(tp)
    return consumer


def tail(
    settings: Settings,
    topic: str,
    emit: Callable[[str], None],
    *,
    from_beginning: bool = True,
    max_events: int | None = None,
    idle_timeout_s: float | None = None,
) -> int:
    """Emit events until ``max_events`` or ``idle_timeout_s`` without a new one."""
    consumer = open_tail(settings, topic, from_beginning)
    count = 0
    last = time.monotonic()
    try:
        while max_events is None or count < max_events:
            polled = consumer.poll(timeout_ms=200)
            for records in polled.values():
                for r in records:
                    emit(render(r.value))
                    count += 1
                    last = time.monotonic()
                    if max_events is not None and count >= max_events:
                        return count
            if idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                break
    finally:
        consumer.close()
    return count
