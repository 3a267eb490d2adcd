"""The feedback pipeline: decode, join, deduplicate, train, checkpoint, then acknowledge.

Transport-free: it sees :class:`Record` objects (raw bytes, their position, and an ``ack``
callback) and talks to Redis and the learner through injected objects, so the Faust
agent only moves records in and the commit order lives here, in one place:

1. train a micro-batch on the training thread (ids staged in the dedup ledger);
2. when a checkpoint is due: journal the staged ids, write the checkpoint (model, the
   ids first trained into it, the deduplicated ``examples_seen`` and the offsets
   covered), mark the ids in Redis;
3. only then acknowledge the records, so the consumer group commits past them.

A crash anywhere replays from the last checkpoint and trains nothing twice into it.
Records below the offsets of the checkpoint resumed from are acknowledged unseen.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from learners._examples import Example, Source, offset_key
from schemas import DeadLetter, FeedbackEvent, Rejection, Settings, dead_letter, decode_feedback
from serving._metrics import Metrics
from serving._records import PredictionRecord, RecordStore
from streams._crashpoints import crash_point
from streams._dedup import DedupLedger
from streams._join import JOIN_TIMEOUT, PENDING_OVERFLOW, PendingBuffer, join
from streams._lifecycle import Candidate, Lifecycle
from streams._training import CheckpointSchedule, TrainingExecutor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka record and how to acknowledge it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    ack: Callable[[], Awaitable[object]]

    @property
    def source(self) -> Source:
        """Its position, as an example's source."""
        return Source(self.topic, self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class _Parked:
    record: Record
    feedback: FeedbackEvent


class FeedbackPipeline:
    """Turns feedback records into trained, checkpointed examples. Not thread-safe: one loop.

    Parameters
    ----------
    settings
        Batch, pending, checkpoint and topic settings.
    executor
        The training thread that owns the learner.
    ledger
        Which event ids are trained (Redis).
    records
        Prediction records (Redis).
    send_dead_letter
        Publishes a dead letter and returns once the broker has it.
    clock
        Monotonic clock, for the pending TTL and the checkpoint schedule.
    """

    def __init__(
        self,
        settings: Settings,
        executor: TrainingExecutor,
        ledger: DedupLedger,
        records: RecordStore,
        send_dead_letter: Callable[[bytes | None, DeadLetter], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
        lifecycle: Lifecycle | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.ledger = ledger
        self.records = records
        self.send_dead_letter = send_dead_letter
        self.lifecycle = lifecycle
        self.metrics = metrics
        self._recent_hits: collections.deque[bool] = collections.deque(maxlen=200)
        self.pending: PendingBuffer[_Parked] = PendingBuffer(
            settings.pending_max, settings.pending_ttl_s, clock
        )
        self.schedule = CheckpointSchedule(
            settings.checkpoint_every_examples, settings.checkpoint_every_s, clock
        )
        self.counters: Counter[str] = Counter()
        self.version = -1
        self.examples_seen = 0
        self.covered: dict[str, int] = {}
        self._next: dict[str, int] = {}
        self._to_ack: list[Record] = []
        self._metrics: defaultdict[str, list[float]] = defaultdict(list)
        self._lock = asyncio.Lock()
        self.started = asyncio.Event()

    async def start(self) -> None:
        """Load the newest valid checkpoint and repair the dedup marks it covers."""
        if self.started.is_set():
            return
        point = await self.executor.resume()
        repaired = await asyncio.to_thread(self.ledger.recover, point.version)
        if self.lifecycle is not None:
            await self.lifecycle.start()
            await self.lifecycle.resumed(
                point.version, point.parent, point.examples_seen, point.metrics
            )
        self.version = point.version
        self.examples_seen = point.examples_seen
        self.covered = dict(point.offsets)
        log.info(
            "worker resumes from version %d (%d examples, offsets %s; %d dedup marks repaired)",
            self.version,
            self.examples_seen,
            self.covered,
            repaired,
        )
        self.started.set()

    async def handle(self, batch: Sequence[Record]) -> None:
        """Process one micro-batch of feedback records."""
        async with self._lock:
            fresh: list[tuple[Record, FeedbackEvent]] = []
            for rec in batch:
                key = offset_key(rec.topic, rec.partition)
                self._next[key] = max(self._next.get(key, 0), rec.offset + 1)
                if rec.offset < self.covered.get(key, 0):
                    self.counters["skipped_covered"] += 1
                    await rec.ack()
                    continue
                event = decode_feedback(
                    rec.key, rec.value, max_event_bytes=self.settings.max_event_bytes
                )
                if isinstance(event, Rejection):
                    self.counters[f"invalid:{event.code}"] += 1
                    await self._dead_letter(rec, event)
                    continue
                fresh.append((rec, event))
            await self._join_and_train(fresh)
            await self._maybe_checkpoint()

    async def tick(self) -> None:
        """Periodic work with no new records: retry pending joins, expire, scheduled checkpoint."""
        if not self.started.is_set():
            return
        async with self._lock:
            await self._join_and_train([])
            await self._maybe_checkpoint()

    async def flush(self) -> None:
        """Checkpoint whatever is trained and not yet covered (on a clean shutdown)."""
        async with self._lock:
            if self.ledger.staged or self._to_ack:
                await self._checkpoint()

    # -- join ------------------------------------------------------------------------------

    async def _join_and_train(self, fresh: list[tuple[Record, FeedbackEvent]]) -> None:
        fresh = await self._drop_trained(fresh)
        waiting = list(self.pending)
        ids = list(dict.fromkeys([w.event_id for _, w in waiting] + [f.event_id for _, f in fresh]))
        found: dict[str, PredictionRecord] = {}
        if ids:
            got = await asyncio.to_thread(self.records.get_many, ids)
            found = {i: r for i, r in zip(ids, got, strict=True) if r is not None}
        joined: list[tuple[Record, FeedbackEvent, PredictionRecord]] = []
        for token, w in waiting:
            if w.event_id in found:
                self.pending.pop(token)
                joined.append((w.item.record, w.item.feedback, found[w.event_id]))
        for rec, fb in fresh:
            if fb.event_id in found:
                joined.append((rec, fb, found[fb.event_id]))
                continue
            self.counters["pending"] += 1
            evicted = self.pending.add(rec.source, fb.event_id, _Parked(rec, fb))
            for w in evicted:
                self.counters["pending_overflow"] += 1
                await self._dead_letter(
                    w.item.record, Rejection(PENDING_OVERFLOW, f"{self.pending.max_items} full")
                )
        for w in self.pending.expire():
            # No prediction record within the TTL: an unknown (or long-expired) event id.
            self.counters["unknown_id"] += 1
            self._count_outcome("expired")
            detail = f"no prediction record for {w.event_id!r} in {self.pending.ttl_s:g} s"
            await self._dead_letter(w.item.record, Rejection(JOIN_TIMEOUT, detail))
        await self._train(joined)

    async def _drop_trained(
        self, fresh: list[tuple[Record, FeedbackEvent]]
    ) -> list[tuple[Record, FeedbackEvent]]:
        """Settle feedback for ids already trained before the join needs their records.

        A replay outlives the prediction records (``dedup_ttl_s`` > ``prediction_ttl_s``):
        it is a duplicate, not feedback waiting for a record that will never come back.
        """
        if not fresh:
            return fresh
        done = await asyncio.to_thread(self.ledger.trained, [fb.event_id for _, fb in fresh])
        if not done:
            return fresh
        staged = self.ledger.staged
        rest: list[tuple[Record, FeedbackEvent]] = []
        for rec, fb in fresh:
            if fb.event_id in done:
                await self._duplicate(rec, durable=fb.event_id not in staged)
            else:
                rest.append((rec, fb))
        return rest

    def _count_outcome(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.feedback.labels(outcome=outcome).inc()

    async def _duplicate(self, rec: Record, *, durable: bool) -> None:
        self.counters["duplicate"] += 1
        self._count_outcome("duplicate")
        if durable:
            await rec.ack()
        else:
            # The first copy is not durable yet: ack this one with it.
            self._to_ack.append(rec)

    async def _train(self, joined: list[tuple[Record, FeedbackEvent, PredictionRecord]]) -> None:
        if not joined:
            return
        done = await asyncio.to_thread(self.ledger.trained, [fb.event_id for _, fb, _ in joined])
        staged = self.ledger.staged
        examples: list[Example] = []
        observed: list[tuple[FeedbackEvent, PredictionRecord]] = []
        batch_ids: set[str] = set()
        for rec, fb, pred in joined:
            if fb.event_id in done or fb.event_id in batch_ids:
                durable = fb.event_id not in staged and fb.event_id not in batch_ids
                await self._duplicate(rec, durable=durable)
                continue
            batch_ids.add(fb.event_id)
            observed.append((fb, pred))
            example = join(fb, pred, rec.source)
            self._to_ack.append(rec)
            if self.lifecycle is not None and self.lifecycle.hold_out(example):
                # Kept for the validation gate, never trained: a held-out disposition.
                self.counters["held_out"] += 1
                continue
            examples.append(example)
        self._observe_feedback(observed)
        if self.lifecycle is not None:
            await self.lifecycle.observe_feedback(observed)
            self._apply_rebase()
        if not examples:
            return
        t0 = time.perf_counter()
        result = await self.executor.learn(examples)
        self._observe_step(result.n_trained, result.mean_loss, len(examples), t0)
        if self.lifecycle is not None:
            await self.lifecycle.observe_step(result)
        # The per-user cap down-weights, never drops: every example here is trained.
        self.ledger.stage(result.event_ids)
        self.schedule.add(result.n_trained)
        self.counters["trained"] += result.n_trained
        self.counters["dropped_user_cap"] += result.n_dropped
        for name, value in (("loss", result.mean_loss), ("accuracy", result.accuracy)):
            if value is not None:
                self._metrics[name].append(value)

    def _apply_rebase(self) -> None:
        """Re-parent on the version a rollback restored.

        The learner holds that version now: the next checkpoint is its child, and what was
        trained since the last checkpoint is no longer in the model.
        """
        if self.lifecycle is None or self.lifecycle.rebase_to is None:
            return
        version, seen = self.lifecycle.rebase_to
        self.lifecycle.rebase_to = None
        undone = self.ledger.discard_staged()
        log.warning(
            "rolled back: training goes on from v%d (%d examples); %d examples trained "
            "since v%d are undone (their records are still acknowledged)",
            version,
            seen,
            undone,
            self.version,
        )
        self.version, self.examples_seen = version, seen

    # -- checkpoint ------------------------------------------------------------------------

    def _observe_feedback(self, observed: list[tuple[FeedbackEvent, PredictionRecord]]) -> None:
        for fb, pred in observed:
            self._recent_hits.append(pred.label == fb.label)
        m = self.metrics
        if m is None or not observed:
            return
        for fb, pred in observed:
            m.feedback.labels(outcome="correct" if pred.label == fb.label else "wrong").inc()
        hits = self._recent_hits
        m.rolling_accuracy.labels(model=self.settings.model_name).set(sum(hits) / len(hits))

    def _observe_step(self, n: int, loss: float | None, batch: int, t0: float) -> None:
        m = self.metrics
        if m is None:
            return
        model = self.settings.model_name
        m.training_examples.labels(model=model).inc(n)
        m.batch_size.labels(stage="train").observe(batch)
        m.model_latency.labels(stage="train").observe(time.perf_counter() - t0)
        if loss is not None:
            m.training_loss.labels(model=model).set(loss)

    async def _maybe_checkpoint(self) -> None:
        reason = self.lifecycle.due() if self.lifecycle is not None else None
        written: Candidate | None = None
        if (self.schedule.due() or reason is not None) and (self.ledger.staged or self._to_ack):
            written = await self._checkpoint()
        if reason is None or self.lifecycle is None:
            return
        cand = written or self.lifecycle.last_candidate
        if cand is None or cand.version <= self.lifecycle.serving_version:
            self.lifecycle.policy.resolve(False)  # nothing new to offer
            return
        await self.lifecycle.consider(cand, reason)

    def offsets(self) -> dict[str, int]:
        """Next offset to consume per ``topic:partition``: nothing below it needs replaying."""
        out = dict(self.covered)
        low: dict[str, int] = {}
        for _, w in self.pending:
            src = w.item.record.source
            key = offset_key(src.topic, src.partition)
            low[key] = min(low.get(key, src.offset), src.offset)
        for key, nxt in self._next.items():
            out[key] = max(out.get(key, 0), min(nxt, low.get(key, nxt)))
        return out

    async def _checkpoint(self) -> Candidate | None:
        version = await self.executor.next_version()
        offsets = self.offsets()
        ids = await asyncio.to_thread(self.ledger.prepare, version)
        seen = self.examples_seen + len(ids)
        metrics = {k: sum(v) / len(v) for k, v in self._metrics.items() if v}
        metrics["examples_new"] = float(len(ids))
        parent = self.version if self.version >= 0 else None
        where = await self.executor.save(version, parent, seen, offsets, metrics, ids)
        crash_point("checkpoint_written")
        await asyncio.to_thread(self.ledger.commit, version)
        self.version, self.examples_seen, self.covered = version, seen, offsets
        self.counters["checkpoints"] += 1
        log.info("checkpoint %d at %s: %d examples (+%d)", version, where, seen, len(ids))
        to_ack, self._to_ack = self._to_ack, []
        for rec in to_ack:
            await rec.ack()
        self._metrics.clear()
        self.schedule.reset()
        if self.lifecycle is None:
            return None
        return await asyncio.to_thread(self.lifecycle.candidate, version, parent, seen, metrics)

    async def _dead_letter(self, rec: Record, rejection: Rejection) -> None:
        dl = dead_letter(
            rejection,
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            raw=rec.value,
            max_raw_bytes=self.settings.max_event_bytes,
        )
        await self.send_dead_letter(rec.key, dl)
        await rec.ack()


def summarise(counters: Mapping[str, int]) -> str:
    """One log line of counters.

    Examples
    --------
    >>> summarise({"trained": 3, "duplicate": 1})
    'duplicate=1 trained=3'
    """
    return " ".join(f"{k}={v}" for k, v in sorted(counters.items()))
