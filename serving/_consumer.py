"""The serving loop: poll texts, micro-batch, predict, store records, publish, commit.

The forward pass of one batch runs on a worker thread while the loop polls the next batch
and publishes the previous one (``serve_pipeline``); batches still finish in order, and
each follows a fixed order so a crash replays and never loses:

1. write the prediction records to Redis (the feedback join needs them first);
2. produce predictions and dead letters;
3. at most every ``serve_commit_interval_ms``: commit the offsets of the oldest batches
   whose sends are all acknowledged (``acks=all``), without waiting for the others; when
   the consumer goes idle or stops, flush first and commit everything. Nothing on the
   model's critical path waits for a broker round trip.

A crash anywhere before step 3 replays the batch: duplicates, never losses.

A memory-only broker that restarts loses topics, offsets and the group. Every few
seconds the consumer compares what it committed with the group's committed offsets on the
broker; an offset that vanished or went back is reported (an ERROR log
line and a ``broker_data_lost`` dead letter) and the contract's topics are re-created.
A publish that cannot be acknowledged within the flush timeout raises
:class:`PublishError`, so the process exits non-zero for a supervisor to restart it
instead of hanging.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.structs import OffsetAndMetadata, TopicPartition

from schemas import DeadLetter, Prediction, Rejection, Settings, dead_letter
from serving._batcher import Decoded, RawRecord, build_outputs, split_batch
from serving._group import GroupState, RebalanceStalled
from serving._metrics import Metrics
from serving._predictor import BatchOutput, Predictor
from serving._records import PredictionRecord, RecordStore

log = logging.getLogger(__name__)

#: Upper bound on waiting for a batch's acks before giving up on it (never hang).
FLUSH_TIMEOUT_S = 60.0
#: How often the committed offsets are checked against the broker (data-loss detection).
LOSS_CHECK_EVERY_S = 3.0
#: How long one committed-offset lookup of that check may block.
LOSS_CHECK_TIMEOUT_MS = 1000
#: Poll slices while a forward pass runs: how soon the loop notices that it finished.
BUSY_POLL_MS = 5
MAX_BUSY_POLL_MS = 100


class PublishError(RuntimeError):
    """A prediction or dead letter was not acknowledged; the batch is not committed."""


class BrokerDataLost(RuntimeError):
    """The broker lost this group's offsets or the texts topic (a memory-only restart)."""


def _forward(predictor: Predictor, texts: list[str]) -> tuple[BatchOutput, float]:
    """One forward pass and how long it took (seconds)."""
    t0 = time.perf_counter()
    out = predictor.predict(texts)
    return out, time.perf_counter() - t0


@dataclass(frozen=True, slots=True)
class InFlight:
    """A decoded batch whose forward pass was started.

    ``forward`` is ``None`` when the batch holds no valid event: nothing to run.
    """

    records: list[RawRecord]
    decoded: Decoded
    version: int
    forward: Future[tuple[BatchOutput, float]] | None
    started: float

    def running(self) -> bool:
        """Whether the forward pass is still running."""
        return self.forward is not None and not self.forward.done()


@dataclass
class ServingStats:
    """Counters a serving consumer keeps (also exported as metrics)."""

    batches: int = 0
    predictions: int = 0
    dead_letters: int = 0
    record_write_failures: int = 0
    commit_failures: int = 0
    commits_skipped_rebalancing: int = 0
    broker_losses: int = 0
    last_batch_size: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class ServingConsumer:
    """Consumes ``texts`` in group ``serving`` and publishes ``predictions``."""

    def __init__(
        self,
        settings: Settings,
        predictor: Predictor,
        *,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        store: RecordStore,
        on_batch: Callable[[int, float], None] | None = None,
        on_output: Callable[[BatchOutput, int], object] | None = None,
        metrics: Metrics | None = None,
        group: GroupState | None = None,
    ) -> None:
        self.settings = settings
        self.predictor = predictor
        self.consumer = consumer
        self.producer = producer
        self.store = store
        self.on_batch = on_batch
        self.on_output = on_output
        self.stats = ServingStats()
        self.topics = settings.topics
        self.metrics = metrics
        #: Rebalance tracking; ``None`` when the consumer was subscribed without it.
        self.group = group
        self.ensure_topics: Callable[[], object] | None = None
        self._committed: dict[TopicPartition, int] = {}
        #: The texts topic's id when first seen: another id means it was re-created.
        self._texts_topic_id: object | None = None
        #: A loss was reported mid-rebalance: commit nothing more (offsets read before it
        #: belong to the old log) and exit once the group has rejoined.
        self._loss_pending = False
        #: Next offset to read per partition, as far as this consumer has read (lag).
        self._read_up_to: dict[TopicPartition, int] = {}
        #: Finished batches not yet committed, oldest first: when finished, their records
        #: and their sends (see :meth:`commit_acked`).
        self._pending: deque[tuple[float, list[RawRecord], list[Any]]] = deque()
        self._last_commit = time.monotonic()
        self._next_loss_check = 0.0
        #: Smoothed forward-pass seconds per text, see :meth:`_busy_poll_ms`. Per text, so
        #: a small batch is not expected to take as long as a full one (the fixed cost of
        #: a pass makes this an underestimate for it: safe, it only polls more often).
        self._forward_per_text = 0.0

    def poll_batch(self, inflight: InFlight | None = None) -> list[RawRecord]:
        """Gather up to ``serve_max_batch`` records.

        It waits at most ``serve_max_wait_ms`` after the first record arrives, and up to
        500 ms for a first one. While the forward pass of the batch ``inflight`` is still
        running it keeps filling the batch, since the model could not start it earlier
        anyway; once that pass is done, it does not wait for a first record, so the batch
        in flight is published at once.
        """
        max_batch = self.settings.serve_max_batch
        max_wait = self.settings.serve_max_wait_ms / 1000
        out: list[RawRecord] = []
        first_at: float | None = None
        while len(out) < max_batch:
            running = inflight is not None and inflight.running()
            busy_ms = self._busy_poll_ms(inflight) if inflight is not None and running else 0
            if first_at is None:
                timeout_ms = busy_ms if running else (0 if inflight else 500)
            else:
                left = first_at + max_wait - time.monotonic()
                if left <= 0 and not running:
                    break
                timeout_ms = busy_ms if running else math.ceil(left * 1000)
            polled: dict[Any, list[Any]] = self.consumer.poll(
                timeout_ms=timeout_ms, max_records=max_batch - len(out)
            )
            now = time.monotonic_ns()
            for records in polled.values():
                for r in records:
                    out.append(
                        RawRecord(r.topic, r.partition, r.offset, r.key, r.value, now, r.timestamp)
                    )
            if not out and not running:
                return out
            if first_at is None and out:
                first_at = time.monotonic()
        return out

    def _busy_poll_ms(self, inflight: InFlight) -> int:
        """How long to wait for records while ``inflight``'s forward pass runs.

        Until about when it should end (from recent passes), then in short slices. Each
        wake-up takes the GIL from the forward pass, so waking every few milliseconds
        throughout would slow it.
        """
        expected = self._forward_per_text * len(inflight.decoded.valid)
        left_ms = (inflight.started + expected - time.perf_counter()) * 1000
        return int(min(max(left_ms, BUSY_POLL_MS), MAX_BUSY_POLL_MS))

    def start(self, records: list[RawRecord], pool: Executor | None = None) -> InFlight:
        """Decode a batch and start its forward pass (on ``pool``, or here and now).

        The predictor is read once, so the whole batch is served by one version even if a
        swap lands meanwhile.
        """
        s = self.settings
        decoded = split_batch(
            records, max_event_bytes=s.max_event_bytes, max_text_bytes=s.max_text_bytes
        )
        predictor = self.predictor
        forward: Future[tuple[BatchOutput, float]] | None = None
        if decoded.valid:
            texts = [event.text for _, event in decoded.valid]
            if pool is None:
                forward = Future()
                forward.set_result(_forward(predictor, texts))
            else:
                forward = pool.submit(_forward, predictor, texts)
        return InFlight(records, decoded, predictor.version, forward, time.perf_counter())

    def finish(self, batch: InFlight) -> None:
        """Wait for a batch's forward pass, then store, publish and maybe commit it."""
        predictions: list[Prediction] = []
        stored: list[PredictionRecord] = []
        model_s = 0.0
        if batch.forward is not None:
            out, model_s = batch.forward.result()
            per_text = model_s / len(batch.decoded.valid)
            self._forward_per_text += (per_text - self._forward_per_text) / 4  # for the poll
            if self.on_output is not None:
                self.on_output(out, batch.version)
            predictions, stored = build_outputs(
                batch.decoded.valid, out, version=batch.version, done_ns=time.monotonic_ns()
            )
        try:
            self.store.put_many(stored)
        except redis.RedisError as exc:
            # Serving keeps answering when Redis is down; feedback for these events will
            # find no record and be dead-lettered by the join, which is reported there.
            self.stats.record_write_failures += len(stored)
            log.warning("could not store %d prediction records: %s", len(stored), exc)
        sends = [
            self.producer.send(self.topics.predictions, key=p.event_id.encode(), value=p.to_bytes())
            for p in predictions
        ]
        dead = batch.decoded.dead
        sends += [
            self.producer.send(self.topics.dead_letter, key=None, value=d.to_bytes()) for d in dead
        ]
        self._pending.append((time.monotonic(), batch.records, sends))
        if time.monotonic() - self._last_commit >= self.settings.serve_commit_interval_ms / 1000:
            self.commit_acked()
        self.stats.batches += 1
        self.stats.predictions += len(predictions)
        self.stats.dead_letters += len(dead)
        self.stats.last_batch_size = len(batch.records)
        if self.metrics is not None:
            self._observe(batch.records, dead, predictions, model_s, batch.version)
        if self.on_batch is not None:
            self.on_batch(len(batch.records), time.perf_counter() - batch.started)

    def _observe(
        self,
        records: list[RawRecord],
        dead: list[DeadLetter],
        predictions: list[Prediction],
        model_s: float,
        version: int,
    ) -> None:
        m = self.metrics
        assert m is not None
        m.events_in.labels(topic=self.topics.texts).inc(len(records))
        for d in dead:
            m.dead_letters.labels(reason=d.reason.split(":", 1)[0]).inc()
        now = time.time() * 1000
        for p in predictions:
            m.predictions.labels(model=p.model, label=p.label).inc()
        for r in records:
            if r.timestamp_ms > 0:
                m.e2e_latency.observe(max(0.0, (now - r.timestamp_ms) / 1000))
        m.batch_size.labels(stage="serve").observe(len(records))
        if predictions:
            m.model_latency.labels(stage="serve").observe(model_s)
        m.model_version.labels(model=self.settings.model_name).set(version)
        self._observe_lag(records)

    def _observe_lag(self, records: list[RawRecord]) -> None:
        # Lag from what this consumer has read, not ``position()``: for a partition just
        # assigned, ``position()`` fetches committed offsets from the coordinator and
        # blocks, and blocking outside ``poll()`` during a rebalance stalls the group
        # (see ``serving._group``). ``highwater()`` is local.
        m = self.metrics
        assert m is not None
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            self._read_up_to[tp] = max(self._read_up_to.get(tp, 0), r.offset + 1)
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            read = self._read_up_to.get(tp)
            if high is None or read is None:
                continue
            lag = max(0, high - read)
            m.consumer_lag.labels(
                group=self.settings.serving_group, topic=tp.topic, partition=str(tp.partition)
            ).set(lag)

    def commit_acked(self, *, wait: bool = False) -> None:
        """Commit the offsets of the oldest finished batches whose sends are all acknowledged.

        Without ``wait`` nothing blocks: a batch whose acks have not come back yet (nor any
        after it) waits for a later call, unless it has waited ``FLUSH_TIMEOUT_S``. With
        ``wait`` (idle, stopping) it first flushes, so everything finished is committed.

        Raises :class:`PublishError` (and commits neither that batch nor any later one)
        when a send failed or was not acknowledged in time: whoever owns those partitions
        next replays them.
        """
        self._last_commit = time.monotonic()
        if not self._pending:
            return
        if wait or time.monotonic() - self._pending[0][0] > FLUSH_TIMEOUT_S:
            try:
                self.producer.flush(timeout=FLUSH_TIMEOUT_S)
            except KafkaError as exc:  # KafkaTimeoutError: the broker did not ack in time
                unacked = sum(len(sends) for _, _, sends in self._pending)
                raise PublishError(f"{unacked} sends not acknowledged: {exc}") from exc
        records: list[RawRecord] = []
        while self._pending and all(f.is_done for f in self._pending[0][2]):
            _, batch, sends = self._pending.popleft()
            failed = [f for f in sends if f.failed()]
            if failed:
                raise PublishError(
                    f"{len(failed)} of {len(sends)} sends failed: {failed[0].exception}"
                )
            records += batch
        if records:
            self._commit(records)

    def flush_and_commit(self) -> None:
        """Wait for every send of the finished batches, then commit all their offsets."""
        self.commit_acked(wait=True)

    def _rebalancing(self) -> bool:
        return self.group is not None and self.group.rebalancing

    def _commit(self, records: list[RawRecord]) -> None:
        if self._loss_pending:
            return  # the restarted process reads the new log from its start
        if self._rebalancing():
            # A commit now would queue behind our JoinGroup on the coordinator connection
            # and keep this thread out of poll() when the join completes (see
            # serving._group). The partitions are being revoked anyway: whoever owns them
            # next replays this batch (duplicates, never losses).
            self.stats.commits_skipped_rebalancing += 1
            log.info(
                "rebalance in progress: batch of %d not committed, it will replay", len(records)
            )
            return
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            nxt = r.offset + 1
            if tp not in offsets or offsets[tp].offset < nxt:
                offsets[tp] = OffsetAndMetadata(nxt, "", -1)
        try:
            self.consumer.commit(offsets)
            for tp, meta in offsets.items():
                self._committed[tp] = meta.offset
        except KafkaError as exc:
            # The group rebalanced under us (CommitFailedError, RebalanceInProgressError),
            # or the coordinator is gone: another member, or this one after rejoining,
            # replays these records. That gives duplicate predictions (allowed), never lost
            # ones, and the consumer must not die of it.
            self.stats.commit_failures += 1
            log.warning("offset commit failed, the batch will replay: %r", exc)

    def check_broker_loss(self) -> None:
        """Raise :class:`BrokerDataLost` (after reporting it) when the broker lost our state.

        Compares what this consumer committed with the group's committed offsets now: gone
        or lower means the broker lost the group (and, memory-only, the log with it).
        A loss is logged as an ERROR, dead-lettered (reason ``broker_data_lost``) and the
        contract's topics are re-created before raising. Skipped while the group rebalances:
        ``committed()`` would block behind the JoinGroup (see ``serving._group``). A texts
        topic re-created with a new id is a loss too, and is checked even then.
        """
        if not self.consumer.partitions_for_topic(self.topics.texts):
            log.error(
                "topic %s is gone: the broker restarted without its data? Re-creating the "
                "contract's topics",
                self.topics.texts,
            )
            self.stats.broker_losses += 1
            if self.ensure_topics is not None:
                self.ensure_topics()
            raise BrokerDataLost(f"topic {self.topics.texts} vanished from the broker")
        self._check_topic_id()
        if self._loss_pending and not self._rebalancing():
            raise BrokerDataLost(f"topic {self.topics.texts} was re-created on the broker")
        if self._rebalancing():
            return
        lost: list[TopicPartition] = []
        assigned = self.consumer.assignment()
        for tp, ours in list(self._committed.items()):
            if tp not in assigned:
                # Kept: if it comes back, its offset can only have moved forward, unless the
                # broker lost it (a rejoin after a restart hands it back with none).
                continue
            # Only the group's committed offsets are trusted here: Tansu's end offsets can
            # lag the last record of a batch, so they would report losses that are not.
            try:
                theirs = self.consumer.committed(tp, timeout_ms=LOSS_CHECK_TIMEOUT_MS)
            except KafkaTimeoutError:
                # The coordinator is busy (a rebalance we have not been told of yet?):
                # never block on it, check again next time.
                log.info("committed offset of %s[%d] not known in time", tp.topic, tp.partition)
                return
            if theirs is None or theirs < ours:
                lost.append(tp)
                del self._committed[tp]
                log.error(
                    "broker data lost on %s[%d]: this consumer committed %d, the broker now "
                    "has %s; it restarted without its data? Records not yet consumed there "
                    "are gone; re-creating topics and exiting for a restart",
                    tp.topic,
                    tp.partition,
                    ours,
                    theirs,
                )
        if lost:
            self._report_loss(lost, "committed offset vanished: broker restarted?")
            raise BrokerDataLost(
                f"the broker lost the committed offsets of {len(lost)} partitions "
                f"({', '.join(f'{tp.topic}[{tp.partition}]' for tp in lost)})"
            )

    def _check_topic_id(self) -> None:
        """Report a loss when the texts topic was re-created under us (a new topic id).

        After a memory-only broker restarts, the first producer to send re-creates the
        topic (with a new id) before this consumer notices anything; its group then
        rebalances, when the committed-offset check cannot run, and a join that stalls
        would hide the loss until the watchdog. The id needs no coordinator.

        The loss is reported at once and nothing more is committed; the caller raises
        :class:`BrokerDataLost` for a restart, but only once the group has rejoined: a
        member leaving in the middle of a join can stall Tansu's next join for a minute.
        """
        client = getattr(self.consumer, "_client", None)  # kafka-python: no public accessor
        topic_id = getattr(getattr(client, "cluster", None), "topic_id", None)
        current = topic_id(self.topics.texts) if callable(topic_id) else None
        if current is None:
            return
        if self._texts_topic_id is None:
            self._texts_topic_id = current
            return
        if current == self._texts_topic_id:
            return
        log.error(
            "topic %s was re-created (id %s, was %s): the broker restarted without its data? "
            "Records not yet consumed there are gone; re-creating topics",
            self.topics.texts,
            current,
            self._texts_topic_id,
        )
        self._texts_topic_id = current
        ours = [tp for tp in self._committed if tp.topic == self.topics.texts]
        self._committed.clear()
        self._loss_pending = True
        self._report_loss(ours, f"topic {self.topics.texts} re-created: broker restarted?")
        if self._rebalancing():
            log.warning("the group is rejoining: exiting for a restart once it has")

    def _report_loss(self, lost: list[TopicPartition], detail: str) -> None:
        """Count, re-create the contract's topics, dead-letter one notice per partition."""
        self.stats.broker_losses += max(1, len(lost))
        if self.ensure_topics is not None:
            self.ensure_topics()
        for tp in lost:
            letter = dead_letter(
                Rejection("broker_data_lost", detail),
                topic=tp.topic,
                partition=tp.partition,
                offset=-1,
                raw=None,
            )
            self.producer.send(self.topics.dead_letter, value=letter.to_bytes())
        self.producer.flush(timeout=FLUSH_TIMEOUT_S)

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set; the batches in hand are finished first.

        With ``serve_pipeline`` (the default) batch N+1's forward pass runs on a worker
        thread while this thread stores and publishes batch N and polls batch N+2: the
        model never waits for Kafka or Redis. Batches are still finished, published and
        committed in order, so the crash guarantees are unchanged.

        Raises :class:`PublishError` when a batch cannot be acknowledged (the batch is not
        committed, so whoever owns the partition next replays it) and
        :class:`BrokerDataLost` when the broker lost the group and :class:`RebalanceStalled`
        when a rebalance does not finish in ``serve_rebalance_timeout_s``; a supervisor
        restarts.
        """
        if not self.settings.serve_pipeline:
            self._loop(stop, None)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="serving-forward") as pool:
            self._loop(stop, pool)

    def _loop(self, stop: threading.Event, pool: Executor | None) -> None:
        inflight: InFlight | None = None
        while not stop.is_set():
            if self.group is not None:
                try:
                    self.group.check(self.settings.serve_rebalance_timeout_s)
                except RebalanceStalled as exc:
                    log.error("%s; exiting so a supervisor restarts me", exc)
                    raise
            try:
                if time.monotonic() >= self._next_loss_check:
                    self._next_loss_check = time.monotonic() + LOSS_CHECK_EVERY_S
                    self.check_broker_loss()
                batch = self.poll_batch(inflight)
            except KafkaError as exc:
                log.warning("poll failed, retrying: %s", exc)
                stop.wait(0.5)
                continue
            except BrokerDataLost as exc:
                log.error("%s; exiting so a supervisor restarts me", exc)
                raise
            try:
                following = self.start(batch, pool) if batch else None
                if inflight is not None:
                    self.finish(inflight)
                inflight = following
                if inflight is None:
                    self.flush_and_commit()  # idle: nothing waits on a later batch
            except PublishError as exc:
                log.error("cannot publish a batch, exiting so a supervisor restarts me: %s", exc)
                raise
        if inflight is not None:
            self.finish(inflight)
        self.flush_and_commit()
