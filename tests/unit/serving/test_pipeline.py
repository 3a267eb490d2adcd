"""The serving loop's batching and commits, on stand-ins for Kafka and the model.

Pure logic: no broker. What is checked is the order of events the crash guarantees rest
on (commit only what is acknowledged, oldest first) and how a batch is gathered while the
previous one's forward pass runs.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from typing import Any

import numpy as np
import pytest
from kafka.structs import TopicPartition

from schemas import Settings, TextEvent
from serving._batcher import Decoded, RawRecord
from serving._consumer import InFlight, PublishError, ServingConsumer
from serving._predictor import BatchOutput

TOPIC = "t.texts"
TP = TopicPartition(TOPIC, 0)


class Sent:
    """A producer future: done or not, failed or not."""

    def __init__(self, done: bool = True, error: Exception | None = None) -> None:
        self.is_done = done
        self.exception = error

    def failed(self) -> bool:
        return self.is_done and self.exception is not None


class Producer:
    """Hands out the futures it is given, in order; ``flush`` completes them all."""

    def __init__(self) -> None:
        self.futures: deque[Sent] = deque()
        self.flushes = 0

    def send(self, topic: str, key: Any = None, value: Any = None) -> Sent:
        return self.futures.popleft() if self.futures else Sent()

    def flush(self, timeout: float | None = None) -> None:
        self.flushes += 1


class Consumer:
    """Returns scripted poll results and records each poll's timeout and the commits."""

    def __init__(self, polls: list[list[int]] | None = None) -> None:
        self.polls = deque(polls or [])
        self.timeouts: list[int] = []
        self.commits: list[dict[TopicPartition, Any]] = []

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        self.timeouts.append(timeout_ms)
        if not self.polls:
            return {}
        offsets = self.polls.popleft()[:max_records]
        return {TP: [_kafka_record(o) for o in offsets]}

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append(offsets)

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def committed(self, tp: TopicPartition, timeout_ms: int | None = None) -> int | None:
        return self.commits[-1][tp].offset if self.commits else None


class Store:
    def put_many(self, records: Any) -> None:
        pass


def _kafka_record(offset: int) -> Any:
    value = TextEvent(event_id=f"e{offset}", text="hello").to_bytes()
    return type(
        "R",
        (),
        {
            "topic": TOPIC,
            "partition": 0,
            "offset": offset,
            "key": f"e{offset}".encode(),
            "value": value,
            "timestamp": 0,
        },
    )()


def _serving(consumer: Consumer, producer: Producer, **settings: Any) -> ServingConsumer:
    s = Settings(**{"topic_prefix": "t.", "serve_commit_interval_ms": 0, **settings})
    return ServingConsumer(
        s,
        predictor=None,  # type: ignore[arg-type]
        consumer=consumer,
        producer=producer,
        store=Store(),  # type: ignore[arg-type]
    )


def _done_batch(offsets: list[int]) -> InFlight:
    """A finished forward pass over ``offsets``, one valid event each."""
    records = [RawRecord(TOPIC, 0, o, None, b"", 0) for o in offsets]
    valid = [(r, TextEvent(event_id=f"e{r.offset}", text="x")) for r in records]
    n = len(offsets)
    out = BatchOutput(["a", "b"], ["a"] * n, np.full((n, 2), 0.5), np.zeros((n, 4)))
    forward: Future[tuple[BatchOutput, float]] = Future()
    forward.set_result((out, 0.01))
    return InFlight(records, Decoded(valid, []), 1, forward, 0.0)


def _committed(consumer: Consumer) -> list[int]:
    return [c[TP].offset for c in consumer.commits]


def test_commits_stop_at_the_oldest_batch_whose_acks_are_missing() -> None:
    consumer, producer = Consumer(), Producer()
    serving = _serving(consumer, producer)
    late = Sent(done=False)
    producer.futures.extend([Sent(), Sent(), late, Sent()])
    serving.finish(_done_batch([0, 1]))  # acked: committed at once (interval 0)
    assert _committed(consumer) == [2]
    serving.finish(_done_batch([2]))  # its ack is late
    serving.finish(_done_batch([3]))  # acked, but after a batch that is not
    assert _committed(consumer) == [2] and producer.flushes == 0
    late.is_done = True
    serving.commit_acked()
    assert _committed(consumer) == [2, 4]


def test_a_failed_send_raises_and_commits_nothing_from_there_on() -> None:
    consumer, producer = Consumer(), Producer()
    serving = _serving(consumer, producer)
    late = Sent(done=False)
    producer.futures.extend([late, Sent(error=RuntimeError("broker said no"))])
    serving.finish(_done_batch([0]))
    serving.finish(_done_batch([1]))  # failed, behind a batch still waiting for its ack
    assert consumer.commits == []
    late.is_done = True
    with pytest.raises(PublishError, match="broker said no"):
        serving.commit_acked()
    assert consumer.commits == []  # not even the acknowledged batch before it: both replay


def test_idle_flushes_and_commits_everything_finished() -> None:
    consumer, producer = Consumer(), Producer()
    serving = _serving(consumer, producer, serve_commit_interval_ms=60_000)
    serving.finish(_done_batch([5, 6]))
    assert consumer.commits == []  # within the commit interval
    serving.flush_and_commit()
    assert producer.flushes == 1 and _committed(consumer) == [7]


def test_a_batch_keeps_filling_while_the_forward_pass_runs() -> None:
    # Three small polls would be three batches with a 0 ms wait; while the model is busy
    # they become one.
    consumer = Consumer([[10], [11, 12], [13]])
    serving = _serving(consumer, Producer(), serve_max_batch=4, serve_max_wait_ms=0)
    running: Future[tuple[BatchOutput, float]] = Future()
    inflight = InFlight([], Decoded([], []), 0, running, 0.0)
    batch = serving.poll_batch(inflight)
    assert [r.offset for r in batch] == [10, 11, 12, 13]


def test_once_the_pass_is_done_the_loop_does_not_wait_for_records() -> None:
    consumer = Consumer()
    serving = _serving(consumer, Producer())
    assert serving.poll_batch(_done_batch([1])) == []
    assert consumer.timeouts == [0]
    assert serving.poll_batch(None) == []
    assert consumer.timeouts == [0, 500]


def test_run_finishes_the_batch_in_flight_before_it_stops() -> None:
    consumer = Consumer([[0, 1]])
    producer = Producer()
    serving = _serving(consumer, producer)
    stop = threading.Event()

    class Model:
        version = 3

        def predict(self, texts: list[str]) -> BatchOutput:
            stop.set()  # stop arrives while this batch is in flight
            n = len(texts)
            return BatchOutput(["a"], ["a"] * n, np.ones((n, 1)), np.zeros((n, 2)))

    serving.predictor = Model()  # type: ignore[assignment]
    stopper = threading.Timer(30, stop.set)  # a failure must not hang the suite
    stopper.start()
    serving.run(stop)
    stopper.cancel()
    assert serving.stats.predictions == 2 and _committed(consumer) == [2]
