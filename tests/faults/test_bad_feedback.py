"""S6 (feedback topic): every kind of bad feedback is dead-lettered once with a reason,
the worker stays alive, and the valid feedback around it is all trained (per checkpoints)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from schemas import Settings
from streams import make_producer
from tests.faults.ledger import (
    Ledger,
    Report,
    Watch,
    feedback_items,
    record_trained,
    trainable_ids,
)
from tests.faults.worker_helpers import seed_records

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MB = 1024 * 1024


def _fb(eid: str, label: Any = "politics", **extra: Any) -> bytes:
    return json.dumps({"schema_version": 1, "event_id": eid, "label": label, **extra}).encode()


#: (event_id, key, value, reason code)
BAD: list[tuple[str, bytes | None, bytes, str]] = [
    ("bad-json", b"bad-json", b'{"schema_version":1,"event_id":"bad-json",', "malformed_json"),
    ("bad-array", b"bad-array", b'["bad-array", "sport"]', "not_an_object"),
    ("bad-type", b"bad-type", _fb("bad-type", 7), "invalid_fields"),
    ("bad-weight", b"bad-weight", _fb("bad-weight", weight="heavy"), "invalid_fields"),
    (
        "bad-utf8",
        b"bad-utf8",
        b'{"schema_version":1,"event_id":"bad-utf8","label":"\xc3\x28"}',
        "invalid_utf8",
    ),
    # A lone surrogate is valid JSON and valid UTF-8 bytes, but no UTF-8 string.
    ("bad-surrogate", b"bad-surrogate", _fb("bad-surrogate", "\ud800"), "invalid_fields"),
    ("bad-empty", b"bad-empty", _fb("bad-empty", ""), "invalid_fields"),
    ("bad-novalue", b"bad-novalue", b"", "empty_value"),
    ("bad-1mb", b"bad-1mb", _fb("bad-1mb", "a" * MB), "oversized"),
    ("bad-10mb", b"bad-10mb", _fb("bad-10mb", "b" * (10 * MB)), "oversized"),
    (
        "bad-schema",
        b"bad-schema",
        b'{"schema_version":9,"event_id":"bad-schema","label":"x"}',
        "unknown_schema_version",
    ),
    ("bad-nokey", None, _fb("bad-nokey"), "missing_key"),
    ("bad-otherkey", b"someone-else", _fb("bad-otherkey"), "key_mismatch"),
]
#: Valid feedback before each bad record, and after the last.
GAP = 5


def test_bad_feedback_dead_lettered_valid_neighbours_trained(
    settings: Settings, start_proc: Any, fault_results: Callable[[Report], None]
) -> None:
    s = settings.with_overrides(checkpoint_every_s=1.0, worker_max_wait_ms=200, pending_ttl_s=20.0)
    valid = trainable_ids(s, "ok", GAP * (len(BAD) + 1))
    seed_records(s, valid)
    proc = start_proc(s, "worker")
    ledger = Ledger("S6 bad input (feedback)")
    watch = Watch(s, ledger)
    producer = make_producer(s, max_request_size=16 * MB)
    items = feedback_items(valid)
    topic = s.topics.feedback
    t0 = time.monotonic()
    for i, (eid, key, value, _) in enumerate(BAD):
        sent = watch.send(producer, items[GAP * i : GAP * (i + 1)], kind="feedback", topic=topic)
        assert sent == GAP
        assert watch.send(producer, [(eid, key, value)], kind="feedback", valid=False, topic=topic)
    assert watch.send(producer, items[-GAP:], kind="feedback", topic=topic) == GAP
    producer.close()

    def done(led: Ledger) -> bool:
        record_trained(led, s.artifact_dir, s.model_name)  # new checkpoints only
        trained = {eid for eid, _ in led.trainings}
        return proc.popen.poll() is not None or (
            len(led.dead) >= len(BAD) and set(valid) <= trained
        )

    ok = watch.until(done, 120)
    drained_s = time.monotonic() - t0
    watch.close()
    assert proc.popen.poll() is None, f"the worker stays alive:\n{proc.log()[-3000:]}"
    untrained = sorted(set(valid) - {eid for eid, _ in ledger.trainings})
    assert ok, (
        f"dead {[d.reason for d in ledger.dead]}, untrained {untrained}\n{proc.log()[-3000:]}"
    )
    # Each bad record has exactly one dead letter, found by source offset, with the right code.
    sources = Counter((d.source_topic, d.partition, d.offset) for d in ledger.dead)
    offsets = {a.event_id: (a.topic, a.partition, a.offset) for a in ledger.acks}
    for eid, _, _, code in BAD:
        assert sources[offsets[eid]] == 1, (eid, sources[offsets[eid]])
        letter = ledger.dead_by_source()[offsets[eid]]
        assert letter.reason.startswith(code + ":"), (eid, letter.reason)
    assert len(ledger.dead) == len(BAD), [d.reason for d in ledger.dead]
    report = ledger.reconcile()
    trained = Counter(eid for eid, _ in ledger.trainings)
    assert set(trained) == set(valid), "only the valid feedback trains"
    assert max(trained.values()) == 1 and report.extra["duplicates_trained"] == 0
    # From the first send, worker start included.
    report.extra["all_trained_s"] = round(drained_s, 1)
    fault_results(report)
