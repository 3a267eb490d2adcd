"""The Faust worker on the real broker and Redis: join, dedup, checkpoints.

SIGKILL recovery is tests/faults/test_worker_crashes.py (S2, three kills, with the ledger).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from learners import latest_valid_checkpoint
from learners.gate import HoldoutPolicy
from schemas import DeadLetter, FeedbackEvent, Settings
from streams._clients import make_producer
from tests.faults.worker_helpers import seed_records
from tests.integration.helpers import TopicReader

pytestmark = pytest.mark.integration


def _feedback(settings: Settings, items: list[tuple[str, bytes]]) -> None:
    producer = make_producer(settings)
    for key, value in items:
        producer.send(settings.topics.feedback, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def _fb(event_id: str, label: str = "politics") -> tuple[str, bytes]:
    return event_id, FeedbackEvent(event_id=event_id, label=label).to_bytes()


def _wait(cond: Callable[[], Any], timeout: float, what: str, proc: Any) -> Any:
    log = proc.log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.popen.poll() is None:
        got = cond()
        if got:
            return got
        time.sleep(0.2)  # polling interval of a deadline loop, not synchronisation
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log()[-4000:]}")


def _manifest_with(settings: Settings, pred: Callable[[Any], bool]) -> Callable[[], Any]:
    def check() -> Any:
        found = latest_valid_checkpoint(settings.artifact_dir, settings.model_name)
        return found[1] if found is not None and pred(found[1]) else None

    return check


def _trainable(s: Settings, ids: list[str]) -> int:
    """How many of ``ids`` train: one in ``holdout_modulus`` is held out for the gate."""
    policy = HoldoutPolicy(s.holdout_modulus)
    return sum(not policy.holds_out(i) for i in ids)


def test_feedback_trains_deduplicated_examples(settings: Settings, start_proc: Any) -> None:
    ids = [f"e{i}" for i in range(6)]
    s = settings.with_overrides(
        checkpoint_every_examples=_trainable(settings, ids),
        worker_max_wait_ms=200,
        pending_ttl_s=2.0,
    )
    seed_records(s, ids)
    t0 = time.monotonic()
    worker = start_proc(s, "worker")
    _wait(lambda: "worker resumes" in worker.log(), 120, "worker start", worker)
    started = time.monotonic() - t0
    # Duplicates (same event_id again), an unknown id and garbage ride along.
    _feedback(s, [_fb(i) for i in ids] + [_fb("e0"), _fb("e3", "sport"), _fb("nope")])
    _feedback(s, [("bad", b"{not json")])
    manifest = _wait(_manifest_with(s, lambda m: m.version >= 1), 120, "checkpoint", worker)
    elapsed = time.monotonic() - t0
    assert manifest.examples_seen == _trainable(s, ids)
    assert manifest.parent == 0
    assert sum(manifest.offsets.values()) >= 6
    reader = TopicReader(s, s.topics.dead_letter)
    dead = reader.until(lambda r: len(r) >= 2, timeout=60)
    reasons = sorted(DeadLetter.model_validate_json(r.value).reason.split(":")[0] for r in dead)
    assert reasons == ["join_timeout", "malformed_json"], worker.log()[-3000:]
    print(f"worker start (model loaded): {started:.1f} s; to first checkpoint: {elapsed:.1f} s")
