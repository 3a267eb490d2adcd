"""The ledger itself: each property it reconciles catches its violation (no services)."""

from __future__ import annotations

import base64

import pytest

from schemas import DeadLetter
from tests.faults.ledger import Ack, Ledger, Seen

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _ledger() -> Ledger:
    led = Ledger("unit")
    for i in range(3):
        led.acked(Ack(f"e{i}", "text", True, "texts", i, 10, 100.0))
        led.predicted(Seen(f"e{i}", 1, 101.0 + i, 0, i))
    return led


def _letter(offset: int, raw: bytes, reason: str = "malformed_json: x") -> DeadLetter:
    return DeadLetter(
        source_topic="texts",
        partition=0,
        offset=offset,
        reason=reason,
        raw=base64.b64encode(raw).decode(),
        timestamp=0,
    )


def test_clean_ledger_reconciles() -> None:
    report = _ledger().reconcile()
    assert (report.sent, report.lost, report.duplicates) == (3, 0, 0)


def test_lost_text_is_caught() -> None:
    led = _ledger()
    led.acked(Ack("e9", "text", True, "texts", 0, 11, 100.0))
    assert led.check().lost == 1
    with pytest.raises(AssertionError, match="never predicted"):
        led.reconcile()


def test_duplicates_are_counted() -> None:
    led = _ledger()
    led.predicted(Seen("e0", 1, 105.0, 0, 3))
    assert led.reconcile().duplicates == 1


def test_invalid_record_must_be_dead_lettered_by_offset_or_id() -> None:
    led = _ledger()
    led.acked(Ack("bad", "text", False, "texts", 0, 20, 100.0))
    assert "not dead-lettered" in led.check().violations[0]
    led.dead_lettered(_letter(20, b"{oops"))  # unparsable raw: found by source offset
    led.reconcile()
    led.acked(Ack("bad2", "text", False, "texts", 0, 21, 100.0))
    led.dead_lettered(_letter(-1, b'{"event_id": "bad2"}'))  # found by the id in raw
    led.reconcile()


def test_version_regression_needs_a_declared_rollback() -> None:
    led = _ledger()
    led.predicted(Seen("e0", 0, 110.0, 0, 9))
    with pytest.raises(AssertionError, match="without a rollback"):
        led.reconcile()
    led.rollback(0, at=109.0)
    led.reconcile()


def test_refused_version_must_never_serve() -> None:
    led = _ledger()
    led.refused(1)
    with pytest.raises(AssertionError, match="refused versions served"):
        led.reconcile()


def test_event_trained_twice_into_one_checkpoint_is_caught() -> None:
    led = _ledger()
    led.acked(Ack("f0", "feedback", True, "feedback", 0, 0, 100.0))
    assert "neither trained" in led.check().violations[0]
    led.trained("f0", 2)
    led.reconcile()
    led.trained("f0", 2)
    with pytest.raises(AssertionError, match="counted twice"):
        led.reconcile()


def test_recovery_is_the_slowest_partition_after_the_fault() -> None:
    led = _ledger()  # partitions 0, 1, 2 first predicted at 101, 102, 103
    led.fault("kill", at=100.5)
    assert led.recovery_s() == pytest.approx(2.5)
