"""S7: duplicate and replayed feedback, feedback before its prediction, feedback for unknown
ids and feedback after its prediction record's TTL, through a real ``serve`` and ``worker``.

"Trained once" is read from the checkpoints: each event id appears in exactly one
checkpoint's ``trained_ids.json`` (:func:`~tests.faults.ledger.record_trained`).
"""

from __future__ import annotations

import ast
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas import Settings, TextEvent
from streams import make_producer
from streams._clients import make_redis
from tests.faults.ledger import (
    Ack,
    Ledger,
    Report,
    Watch,
    event_id_of,
    feedback_items,
    record_trained,
    trainable_ids,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

#: Records outlive a join retry by far, yet expire within the test.
PREDICTION_TTL_S = 6
PENDING_TTL_S = 8.0

Cond = Callable[[Ledger], bool]


def _texts(ids: list[str]) -> list[tuple[str, bytes | None, bytes]]:
    return [(i, i.encode(), TextEvent(event_id=i, text=f"news on {i}").to_bytes()) for i in ids]


def _records_left(settings: Settings, ids: list[str]) -> int:
    client = make_redis(settings)
    try:
        return int(client.exists(*[f"{settings.redis_prefix}pred:{i}" for i in ids]))
    finally:
        client.close()


def _counters(log: str) -> Counter[str]:
    """The worker's counters, from the line it logs when it stops."""
    match = re.search(r"worker stopping: (\{.*\})", log)
    assert match is not None, log[-3000:]
    return Counter(ast.literal_eval(match.group(1)))


@dataclass
class _Run:
    """One serve, one worker, and the ledger watching them."""

    settings: Settings
    watch: Watch
    producer: KafkaProducer
    worker: Any
    serve: Any

    def alive(self) -> bool:
        return self.worker.popen.poll() is None and self.serve.popen.poll() is None

    def wait(self, cond: Cond, what: str, timeout: float = 60) -> None:
        ok = self.watch.until(lambda led: cond(led) or not self.alive(), timeout)
        assert ok and self.alive(), (
            f"{what}\nworker:\n{self.worker.log()[-3000:]}\nserve:\n{self.serve.log()[-2000:]}"
        )

    def texts(self, ids: list[str]) -> None:
        assert self.watch.send(self.producer, _texts(ids)) == len(ids)

    def feedback(self, ids: list[str]) -> None:
        items = feedback_items(ids)
        topic = self.settings.topics.feedback
        assert self.watch.send(self.producer, items, kind="feedback", topic=topic) == len(ids)

    def barrier(self, tag: str) -> list[str]:
        """A malformed record on every feedback partition. The worker handles a partition
        in order, and a batch's join right after its dead letters: once all are
        dead-lettered, everything produced before them has been read and joined or parked."""
        ids = []
        for p in range(self.settings.partitions):
            eid = f"{tag}-p{p}"
            topic, key = self.settings.topics.feedback, eid.encode()
            fut = self.producer.send(topic, key=key, value=b"{" + key, partition=p)
            self.producer.flush()
            md = fut.get(timeout=30)
            ack = Ack(eid, "feedback", False, md.topic, md.partition, md.offset, time.time())
            self.watch.ledger.acked(ack)
            ids.append(eid)
        return ids

    def predicted(self, ids: list[str]) -> Cond:
        return lambda led: set(ids) <= set(led.predicted_counts())

    def trained(self, ids: list[str]) -> Cond:
        def check(led: Ledger) -> bool:
            record_trained(led, self.settings.artifact_dir, self.settings.model_name)
            return set(ids) <= {eid for eid, _ in led.trainings}

        return check

    def dead(self, ids: list[str]) -> Cond:
        return lambda led: set(ids) <= led.dead_event_ids()


def test_duplicates_replays_early_unknown_and_expired_feedback(
    settings: Settings, start_proc: Any, fault_results: Callable[[Report], None]
) -> None:
    s = settings.with_overrides(
        checkpoint_every_s=1.0,
        worker_max_wait_ms=200,
        pending_ttl_s=PENDING_TTL_S,
        prediction_ttl_s=PREDICTION_TTL_S,
    )
    ledger = Ledger("S7 duplicates, replays, early/unknown/expired feedback")
    run = _Run(
        s, Watch(s, ledger), make_producer(s), start_proc(s, "worker"), start_proc(s, "serve")
    )
    early = trainable_ids(s, "early", 8)  # feedback before its text exists
    dup = trainable_ids(s, "dup", 8)  # feedback sent twice
    expired = trainable_ids(s, "expired", 6)  # feedback after its record's TTL
    unknown = trainable_ids(s, "unknown", 6)  # feedback for ids never seen
    # 1. Serving is up: texts whose records will have expired when their feedback comes.
    run.texts(expired)
    run.wait(run.predicted(expired), "serving predicts", timeout=90)
    t0 = time.monotonic()
    # 2. Feedback before its text: the worker parks it.
    run.feedback(early)
    barrier = run.barrier("barrier")
    run.wait(run.dead(barrier), "the worker reads feedback", timeout=90)
    # 3. The texts come and the parked feedback joins; feedback for `dup` comes twice.
    run.texts(early + dup)
    run.wait(run.predicted(early + dup), "serving predicts")
    run.feedback(dup + dup)
    run.wait(run.trained(early + dup), "early and duplicated feedback trained")
    joined_s = time.monotonic() - t0
    # 4. Replay the trained batch after its records expired; then expired and unknown ids.
    run.wait(lambda _: _records_left(s, early + dup + expired) == 0, "records expire", 30)
    run.feedback(early + dup)
    run.feedback(expired + unknown)
    # Pending entries expire in arrival order: once these are dead, a parked replay is too.
    run.wait(run.dead(expired + unknown), "join timeouts")
    settled_s = time.monotonic() - t0
    run.producer.close()
    run.watch.close()
    assert run.alive()
    assert run.worker.stop() == 0
    record_trained(ledger, s.artifact_dir, s.model_name)  # and the final checkpoint, if any

    # Feedback for `early` was acknowledged before any of its predictions existed.
    first_pred = ledger.first_prediction_at()
    first_acks = [a for a in ledger.acks if a.kind == "feedback" and a.event_id in early]
    assert all(a.at < first_pred[a.event_id] for a in first_acks[: len(early)])
    # Trained exactly once; expired and unknown never; one join_timeout each, nothing else.
    times = Counter(eid for eid, _ in ledger.trainings)
    assert times == Counter(early + dup), times
    reasons = Counter(d.reason.split(":")[0] for d in ledger.dead)
    assert reasons == {"malformed_json": len(barrier), "join_timeout": len(expired + unknown)}
    timed_out = Counter(eid for d in ledger.dead if (eid := event_id_of(d.raw)))
    assert timed_out == Counter(expired + unknown), timed_out
    report = ledger.reconcile()
    assert report.duplicates == 0 and report.extra["duplicates_trained"] == 0
    # The worker's own counts: parked, deduplicated (in-batch, staged or durable), timed out.
    counters = _counters(run.worker.log())
    assert counters["pending"] == len(early + expired + unknown), counters
    assert counters["duplicate"] == len(dup) + len(early + dup), counters
    assert counters["unknown_id"] == len(expired + unknown), counters
    report.extra |= {"joined_s": round(joined_s, 1), "settled_s": round(settled_s, 1)}
    fault_results(report)
