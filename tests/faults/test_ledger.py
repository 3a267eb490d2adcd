"""The ledger itself: each property it reconciles catches its violation (no services)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from learners import build_initial, checkpoint_path, default_model_path, save_checkpoint
from learners._checkpoint import TRAINED_IDS_FILE
from schemas import DeadLetter
from tests.faults.ledger import Ack, Ledger, Seen, record_trained

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


def _fed(led: Ledger, *ids: str) -> Ledger:
    for i, eid in enumerate(ids):
        led.acked(Ack(eid, "feedback", True, "feedback", 0, i, 100.0))
    return led


def test_an_id_in_two_versions_of_one_chain_is_counted_twice() -> None:
    led = _fed(_ledger(), "f0", "f1")
    for version, parent in ((1, 0), (2, 1), (3, 2)):
        led.lineage(version, parent)
    led.trained("f0", 1)
    led.trained("f1", 3)
    assert led.reconcile().extra["duplicates_trained"] == 0
    led.trained("f0", 3)  # v3 contains v1, which already holds f0
    report = led.check()
    assert report.extra["duplicates_trained"] == 1
    with pytest.raises(AssertionError, match="counted twice"):
        led.reconcile()


def test_sibling_branches_may_each_train_an_id_once() -> None:
    # v2 was skipped (corrupt, say): v3 grew from v1 and trained f0 again. Not a duplicate.
    led = _fed(_ledger(), "f0")
    for version, parent in ((1, 0), (2, 1), (3, 1)):
        led.lineage(version, parent)
    led.trained("f0", 2)
    led.trained("f0", 3)
    assert led.reconcile().extra["duplicates_trained"] == 0
    assert led.chain(3) == [3, 1, 0]


def test_feedback_trained_only_off_the_final_lineage_is_lost() -> None:
    led = _fed(_ledger(), "f0", "f1")
    for version, parent in ((1, 0), (2, 1), (3, 1)):
        led.lineage(version, parent)
    led.trained("f0", 2)  # only on the abandoned branch
    led.trained("f1", 3)
    report = led.check()
    assert report.lost == 1
    assert "not in the lineage of v3" in report.violations[0]
    led.rollback(1, at=100.0)  # a declared rollback may abandon a branch on purpose
    led.reconcile()


def test_parent_must_be_older() -> None:
    led = _fed(_ledger(), "f0")
    led.lineage(2, 3)
    led.lineage(3, 2)
    led.trained("f0", 3)
    with pytest.raises(AssertionError, match="versions only increase"):
        led.reconcile()


def test_held_out_feedback_needs_no_training_and_must_not_train() -> None:
    led = _fed(_ledger(), "f0", "h0")
    led.lineage(1, 0)
    led.trained("f0", 1)
    with pytest.raises(AssertionError, match="neither trained"):
        led.reconcile()
    led.held_out("h0")
    led.reconcile()
    led.trained("h0", 1)
    with pytest.raises(AssertionError, match="held-out feedback trained"):
        led.reconcile()


def test_record_trained_reads_ids_and_lineage_and_refuses_corrupt(tmp_path: Path) -> None:
    model, _ = build_initial(default_model_path(), ["a", "b"])
    root = str(tmp_path)
    for version, parent, ids in ((1, None, ["f1", "f0"]), (2, 1, ["f2"]), (3, 2, ["f3"])):
        save_checkpoint(
            root, model, version=version, parent=parent, examples_seen=0, trained_ids=ids
        )
    (checkpoint_path(root, "default", 3) / TRAINED_IDS_FILE).write_text('["f3", "f0"]')
    led = _fed(Ledger("unit"), "f0", "f1", "f2")
    assert record_trained(led, root, "default") == 3
    assert sorted(led.trainings) == [("f0", 1), ("f1", 1), ("f2", 2)]
    assert led.parents == {1: None, 2: 1}
    assert led.refused_versions == {3}  # fails its sha256: must never serve
    assert record_trained(led, root, "default") == 0  # idempotent
    assert led.reconcile().extra["duplicates_trained"] == 0
