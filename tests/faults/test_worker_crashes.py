"""S2: SIGKILL the worker mid-batch 3 times; every feedback trains exactly once, none lost.

A stream of feedback keeps a bounded backlog in front of the worker, so each kill lands
while batches are being trained past the last checkpoint. After each kill a new worker
starts; at the end the checkpoints' ``trained_ids.json`` are reconciled against what the
broker acknowledged: along the final lineage every valid feedback is trained exactly
once (or held out for the gate, or dead-lettered), the lineage is unbroken and versions
only increase.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from learners import checkpoint_path, latest_valid_checkpoint, verify_checkpoint
from learners.gate import HoldoutPolicy
from schemas import Settings
from streams import make_producer
from tests.faults.ledger import Ledger, Report, Watch, record_trained
from tests.faults.worker_helpers import (
    RegistryAudit,
    died,
    fast_worker_settings,
    lineage_ids,
    mark_held_out,
    newest_version,
    resumed_from,
    seed_records,
    send_feedback,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

N = 200
KILLS = 3
CHUNK = 16
BACKLOG = 48
RESENT = 6  # already-sent feedback sent again after each restart: must not train twice


def _settings(settings: Settings) -> Settings:
    return fast_worker_settings(settings, publish_every_examples=64, gate_min_examples=1)


def test_sigkill_worker_mid_batch_three_times(
    settings: Settings, start_proc: Any, fault_results: Callable[[Report], None]
) -> None:
    s = _settings(settings)
    ids = [f"w{i}" for i in range(N)]
    seed_records(s, ids)
    ledger = Ledger("S2 SIGKILL worker x3")
    watch = Watch(s, ledger)
    producer = make_producer(s)
    audit = RegistryAudit(s)
    holdout = HoldoutPolicy(s.holdout_modulus)
    sent = 0
    to_checkpoint: list[float] = []

    def progress() -> int:
        found = latest_valid_checkpoint(s.artifact_dir, s.model_name)
        return 0 if found is None else found[1].examples_seen

    def trainable_sent() -> int:
        return sum(not holdout.holds_out(i) for i in ids[:sent])

    def tick() -> None:
        # A bounded backlog: the stream is still flowing at every kill.
        nonlocal sent
        audit.sample()
        if sent < N and sent - progress() < BACKLOG:
            send_feedback(watch, producer, s, ids[sent : sent + CHUNK])
            sent = min(N, sent + CHUNK)

    worker = start_proc(s, "worker")
    procs = [worker]
    wait_for(lambda: "worker resumes" in worker.log(), 120, "worker start", procs)
    for i in range(KILLS):
        floor = newest_version(s)
        target = (i + 1) * N // (KILLS + 3)

        def reached(floor: int = floor, target: int = target) -> bool:
            done = progress()
            return newest_version(s) > floor and target <= done < trainable_sent()

        wait_for(reached, 90, f"progress before kill {i + 1}", procs, tick)
        worker.kill()
        assert worker.popen.returncode == -9
        killed_at = time.monotonic()
        ledger.fault(f"kill {i + 1}")
        at_kill = newest_version(s)
        # Mid-stream: acknowledged trainable feedback was not yet covered by a checkpoint.
        assert progress() < trainable_sent(), (progress(), trainable_sent())
        worker = start_proc(s, "worker")
        procs.append(worker)
        send_feedback(watch, producer, s, ids[: min(RESENT, sent)])

        def resumed(w: Any = worker) -> int | None:
            return resumed_from(w.log())

        # Recovered: the new worker resumed from the newest checkpoint, and trains again.
        assert wait_for(resumed, 120, f"restart after kill {i + 1}", procs, tick) == at_kill
        # With its optimizer moments and replay buffer, not only its weights.
        state_of = checkpoint_path(s.artifact_dir, s.model_name, at_kill)
        assert f"resumed training state of {state_of}" in worker.log(), worker.log()[-2000:]
        ledger.recovered(f"kill {i + 1}", time.monotonic() - killed_at)

        def training(v: int = at_kill) -> bool:
            return newest_version(s) > v

        wait_for(training, 90, f"first checkpoint after kill {i + 1}", procs, tick)
        to_checkpoint.append(time.monotonic() - killed_at)
    mark_held_out(ledger, s, ids)
    trainable = set(ids) - ledger.held

    def all_trained() -> bool:
        return sent >= N and trainable <= lineage_ids(s)

    wait_for(all_trained, 90, "every feedback trained", procs, tick)
    assert not died(worker)
    watch.poll()
    watch.close()
    producer.close()
    audit.check()
    rows = record_trained(ledger, s.artifact_dir, s.model_name)
    report = ledger.reconcile()
    final = verify_checkpoint(
        latest_valid_checkpoint(s.artifact_dir, s.model_name)[0]  # type: ignore[index]
    )
    assert rows == len(trainable) == final.examples_seen, (rows, len(trainable), final)
    assert report.extra["duplicates_trained"] == 0
    assert ledger.refused_versions == set()
    report.extra.update(
        kills=KILLS,
        checkpoints=len(ledger.parents),
        publications=len(audit.seen) - 1,
        kill_to_next_checkpoint_s=round(max(to_checkpoint), 2),
    )
    fault_results(report)
