"""The serving loop: poll texts, micro-batch, predict, store records, publish, commit.

One batch follows a fixed order so a crash replays and never loses:

1. write the prediction records to Redis (the feedback join needs them first);
2. produce predictions and dead letters;
3. at most every ``serve_commit_interval_ms`` (and whenever the consumer goes idle or
   stops): flush, check every ack (``acks=all``), and only then commit the offsets of the
   batches those sends cover. Waiting for acks once per interval instead of once per
   batch keeps the broker round trip off the model's critical path.

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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from schemas import DeadLetter, Prediction, Rejection, Settings, dead_letter
from serving._batcher import RawRecord, build_outputs, split_batch
from serving._group import GroupState, RebalanceStalled
from serving._metrics import Metrics
from serving._predictor import BatchOutput, Predictor
from serving._records import PredictionRecord, RecordStore

log = logging.getLogger(__name__)

#: Upper bound on waiting for a batch's acks before giving up on it (never hang).
FLUSH_TIMEOUT_S = 60.0
#: How often the committed offsets are checked against the broker (data-loss detection).
LOSS_CHECK_EVERY_S = 3.0


class PublishError(RuntimeError):
    """A prediction or dead letter was not acknowledged; the batch is not committed."""


class BrokerDataLost(RuntimeError):
    """The broker lost this group's offsets or the texts topic (a memory-only restart)."""


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
        #: Sends and records since the last commit (see :meth:`flush_and_commit`).
        self._unacked: list[Any] = []
        self._uncommitted: list[RawRecord] = []
        self._last_commit = time.monotonic()
        self._next_loss_check = 0.0

    def poll_batch(self) -> list[RawRecord]:
        """Gather up to ``serve_max_batch`` records.

        It waits at most ``serve_max_wait_ms`` after the first record arrives, and up to
        500 ms for a first one.
        """
        max_batch = self.settings.serve_max_batch
        out: list[RawRecord] = []
        deadline: float | None = None
        while len(out) < max_batch:
            if deadline is None:
                timeout_ms = 500
            else:
                timeout_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            polled: dict[Any, list[Any]] = self.consumer.poll(
                timeout_ms=timeout_ms, max_records=max_batch - len(out)
            )
            now = time.monotonic_ns()
            for records in polled.values():
                for r in records:
                    out.append(
                        RawRecord(r.topic, r.partition, r.offset, r.key, r.value, now, r.timestamp)
                    )
            if not out:
                return out
            if deadline is None:
                deadline = time.monotonic() + self.settings.serve_max_wait_ms / 1000
            if time.monotonic() >= deadline:
                break
        return out

    def process(self, records: list[RawRecord]) -> None:
        """Predict, store, publish and commit one batch (see the module docstring)."""
        if not records:
            return
        started = time.perf_counter()
        s = self.settings
        decoded = split_batch(
            records, max_event_bytes=s.max_event_bytes, max_text_bytes=s.max_text_bytes
        )
        predictor = self.predictor  # one version for the whole batch, even across a swap
        predictions: list[Prediction] = []
        stored: list[PredictionRecord] = []
        model_s = 0.0
        if decoded.valid:
            t_model = time.perf_counter()
            out = predictor.predict([event.text for _, event in decoded.valid])
            if self.on_output is not None:
                self.on_output(out, predictor.version)
            model_s = time.perf_counter() - t_model
            predictions, stored = build_outputs(
                decoded.valid, out, version=predictor.version, done_ns=time.monotonic_ns()
            )
        try:
            self.store.put_many(stored)
        except redis.RedisError as exc:
            # Serving keeps answering when Redis is down; feedback for these events will
            # find no record and be dead-lettered by the join, which is reported there.
            self.stats.record_write_failures += len(stored)
            log.warning("could not store %d prediction records: %s", len(stored), exc)
        self._unacked += [
            self.producer.send(self.topics.predictions, key=p.event_id.encode(), value=p.to_bytes())
            for p in predictions
        ]
        self._unacked += [
            self.producer.send(self.topics.dead_letter, key=None, value=d.to_bytes())
            for d in decoded.dead
        ]
        self._uncommitted += records
        interval = s.serve_commit_interval_ms / 1000
        if time.monotonic() - self._last_commit >= interval:
            self.flush_and_commit()
        self.stats.batches += 1
        self.stats.predictions += len(predictions)
        self.stats.dead_letters += len(decoded.dead)
        self.stats.last_batch_size = len(records)
        if self.metrics is not None:
            self._observe(records, decoded.dead, predictions, model_s, predictor.version)
        if self.on_batch is not None:
            self.on_batch(len(records), time.perf_counter() - started)

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
        self._observe_lag()

    def _observe_lag(self) -> None:
        m = self.metrics
        assert m is not None
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            lag = max(0, high - self.consumer.position(tp))
            m.consumer_lag.labels(
                group=self.settings.serving_group, topic=tp.topic, partition=str(tp.partition)
            ).set(lag)

    def flush_and_commit(self) -> None:
        """Wait for every send since the last commit, then commit the offsets they cover.

        Raises :class:`PublishError` (and commits nothing) when a send was not
        acknowledged: whoever owns those partitions next replays them.
        """
        self._last_commit = time.monotonic()
        if not self._uncommitted:
            return
        futures, self._unacked = self._unacked, []
        records, self._uncommitted = self._uncommitted, []
        try:
            self.producer.flush(timeout=FLUSH_TIMEOUT_S)
        except KafkaError as exc:  # KafkaTimeoutError: the broker did not ack in time
            raise PublishError(f"{len(futures)} sends not acknowledged: {exc}") from exc
        failed = [f for f in futures if f.failed()]
        if failed:
            raise PublishError(
                f"{len(failed)} of {len(futures)} sends failed: {failed[0].exception}"
            )
        self._commit(records)

    def _rebalancing(self) -> bool:
        return self.group is not None and self.group.rebalancing

    def _commit(self, records: list[RawRecord]) -> None:
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
        ``committed()`` would block behind the JoinGroup (see ``serving._group``).
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
            theirs = self.consumer.committed(tp)
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
            self.stats.broker_losses += len(lost)
            if self.ensure_topics is not None:
                self.ensure_topics()
            for tp in lost:
                letter = dead_letter(
                    Rejection("broker_data_lost", "committed offset vanished: broker restarted?"),
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=-1,
                    raw=None,
                )
                self.producer.send(self.topics.dead_letter, value=letter.to_bytes())
            self.producer.flush(timeout=FLUSH_TIMEOUT_S)
            raise BrokerDataLost(
                f"the broker lost the committed offsets of {len(lost)} partitions "
                f"({', '.join(f'{tp.topic}[{tp.partition}]' for tp in lost)})"
            )

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set; the batch in hand is finished first.

        Raises :class:`PublishError` when a batch cannot be acknowledged (the batch is not
        committed, so whoever owns the partition next replays it) and
        :class:`BrokerDataLost` when the broker lost the group and :class:`RebalanceStalled`
        when a rebalance does not finish in ``serve_rebalance_timeout_s``; a supervisor
        restarts.
        """
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
                batch = self.poll_batch()
            except KafkaError as exc:
                log.warning("poll failed, retrying: %s", exc)
                stop.wait(0.5)
                continue
            except BrokerDataLost as exc:
                log.error("%s; exiting so a supervisor restarts me", exc)
                raise
            try:
                self.process(batch)
                if not batch:
                    self.flush_and_commit()  # idle: nothing waits on a later batch
            except PublishError as exc:
                log.error("cannot publish a batch, exiting so a supervisor restarts me: %s", exc)
                raise
        self.flush_and_commit()
