"""S6 (texts topic): every kind of bad input is dead-lettered with a reason, and the
valid events around it are all predicted by a consumer that stays alive."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from schemas import Settings
from streams import make_producer
from tests.faults.ledger import Ledger, Report, Watch, text_items

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MB = 1024 * 1024


def _text(eid: str, text: str) -> bytes:
    return json.dumps({"schema_version": 1, "event_id": eid, "text": text}).encode()


#: (event_id, key, value, reason code)
BAD: list[tuple[str, bytes | None, bytes, str]] = [
    ("bad-json", b"bad-json", b'{"schema_version":1,"event_id":"bad-json",', "malformed_json"),
    (
        "bad-type",
        b"bad-type",
        b'{"schema_version":1,"event_id":"bad-type","text":7}',
        "invalid_fields",
    ),
    (
        "bad-utf8",
        b"bad-utf8",
        b'{"schema_version":1,"event_id":"bad-utf8","text":"\xc3\x28"}',
        "invalid_utf8",
    ),
    ("bad-empty", b"bad-empty", _text("bad-empty", ""), "invalid_fields"),
    ("bad-1mb", b"bad-1mb", _text("bad-1mb", "a" * MB), "oversized"),
    ("bad-10mb", b"bad-10mb", _text("bad-10mb", "b" * (10 * MB)), "oversized"),
    (
        "bad-schema",
        b"bad-schema",
        b'{"schema_version":9,"event_id":"bad-schema","text":"x"}',
        "unknown_schema_version",
    ),
    ("bad-nokey", None, _text("bad-nokey", "no key"), "missing_key"),
]


def test_bad_input_dead_lettered_valid_neighbours_predicted(
    settings: Settings, start_proc: Any, fault_results: Callable[[Report], None]
) -> None:
    proc = start_proc(settings, "serve")
    ledger = Ledger("S6 bad input (texts)")
    watch = Watch(settings, ledger)
    producer = make_producer(settings, max_request_size=16 * MB)
    valid = text_items("ok", 10 * (len(BAD) + 1))
    for i, (eid, key, value, _) in enumerate(BAD):
        assert watch.send(producer, valid[10 * i : 10 * i + 10]) == 10
        assert watch.send(producer, [(eid, key, value)], valid=False) == 1
    assert watch.send(producer, valid[-10:]) == 10
    producer.close()

    ok = watch.until(lambda led: not led.unpredicted() and len(led.dead) >= len(BAD), 180)
    watch.close()
    assert ok, f"unpredicted {sorted(ledger.unpredicted())[:5]}, dead {len(ledger.dead)}"
    assert proc.popen.poll() is None, "the consumer stays alive"
    # Each bad record has its own dead letter, found by source offset, with the right code.
    by_source = ledger.dead_by_source()
    offsets = {a.event_id: (a.topic, a.partition, a.offset) for a in ledger.acks}
    for eid, _, _, code in BAD:
        letter = by_source[offsets[eid]]
        assert letter.reason.startswith(code), (eid, letter.reason)
    assert len(ledger.dead) == len(BAD)
    report = ledger.reconcile()
    assert report.duplicates == 0
    fault_results(report)
