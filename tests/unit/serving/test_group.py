"""Rebalance tracking: no blocking coordinator call during a rebalance; a stuck one exits."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kafka.structs import TopicPartition

from schemas import Settings
from serving._batcher import RawRecord
from serving._consumer import BrokerDataLost, ServingConsumer
from serving._group import GroupState, RebalanceStalled

TP = TopicPartition("t.texts", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CoordinatorCalls:
    """Stands in for KafkaConsumer; records the calls that go to the group coordinator."""

    def __init__(self) -> None:
        self.commits: list[Any] = []
        self.committed_calls: list[TopicPartition] = []

    def commit(self, offsets: Any) -> None:
        self.commits.append(offsets)

    def committed(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        self.committed_calls.append(tp)
        return 10

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}


def _serving(group: GroupState, consumer: CoordinatorCalls) -> ServingConsumer:
    s = Settings(topic_prefix="t.", serve_rebalance_timeout_s=30.0)
    fakes: dict[str, Any] = {"predictor": None, "producer": None, "store": None}
    return ServingConsumer(s, consumer=consumer, group=group, **fakes)


def _record(offset: int) -> RawRecord:
    return RawRecord("t.texts", 0, offset, b"k", b"{}", 0, 0)


def test_a_member_is_joining_until_its_first_assignment_even_an_empty_one() -> None:
    clock = Clock()
    g = GroupState(clock)
    assert g.rebalancing
    clock.now += 5
    g.on_partitions_assigned(set())  # more members than partitions: idle, not stuck
    assert not g.rebalancing and g.generations == 1 and g.assigned == frozenset()
    clock.now += 1000
    assert not g.stalled(30.0)


def test_revoke_starts_a_rebalance_and_a_long_one_is_stalled() -> None:
    clock = Clock()
    g = GroupState(clock)
    g.on_partitions_assigned({TP})
    g.on_partitions_revoked({TP})
    clock.now += 10
    g.on_partitions_lost({TP})  # a second notice does not restart the clock
    clock.now += 25
    assert g.rebalancing_for() == pytest.approx(35.0)
    with pytest.raises(RebalanceStalled, match="unfinished after 35 s"):
        g.check(30.0)
    g.on_partitions_assigned({TP})
    g.check(30.0)


def test_no_commit_and_no_committed_lookup_while_rebalancing() -> None:
    g = GroupState(Clock())
    consumer = CoordinatorCalls()
    serving = _serving(g, consumer)
    serving._commit([_record(4)])
    serving._committed[TP] = 5
    serving.check_broker_loss()
    assert consumer.commits == [] and consumer.committed_calls == []
    assert serving.stats.commits_skipped_rebalancing == 1
    g.on_partitions_assigned({TP})
    serving._commit([_record(4), _record(9)])
    assert consumer.commits[0][TP].offset == 10
    serving.check_broker_loss()
    assert consumer.committed_calls == [TP]


def test_run_exits_when_the_rebalance_is_stuck() -> None:
    clock = Clock()
    g = GroupState(clock)
    serving = _serving(g, CoordinatorCalls())
    clock.now += 31
    with pytest.raises(RebalanceStalled):
        serving.run(threading.Event())


class Cluster:
    def __init__(self) -> None:
        self.ids: dict[str, str] = {"t.texts": "id-1"}

    def topic_id(self, topic: str) -> str | None:
        return self.ids.get(topic)


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic: str, value: bytes) -> None:
        self.sent.append((topic, value))

    def flush(self, timeout: float | None = None) -> None:
        pass


def test_a_recreated_texts_topic_is_a_loss_reported_even_mid_rebalance() -> None:
    g = GroupState(Clock())
    consumer = CoordinatorCalls()
    consumer._client = type("Client", (), {"cluster": Cluster()})()  # type: ignore[attr-defined]
    serving = _serving(g, consumer)
    serving.producer = Producer()
    recreated: list[bool] = []
    serving.ensure_topics = lambda: recreated.append(True)
    g.on_partitions_assigned({TP})
    serving._commit([_record(4)])
    serving.check_broker_loss()  # learns the id
    consumer.committed_calls.clear()
    g.on_partitions_revoked({TP})  # the restarted broker's group rebalances...
    consumer._client.cluster.ids["t.texts"] = "id-2"  # type: ignore[attr-defined]
    serving.check_broker_loss()  # ...so the loss is reported, and the rejoin goes on
    assert consumer.committed_calls == []  # no coordinator call was needed
    assert recreated == [True] and serving.stats.broker_losses == 1
    ((topic, value),) = serving.producer.sent
    assert topic == "t.dead-letter" and b"broker_data_lost" in value
    serving.check_broker_loss()  # reported once
    assert serving.stats.broker_losses == 1
    g.on_partitions_assigned({TP})
    serving._commit([_record(7)])  # an offset of the old log: never committed to the new
    assert len(consumer.commits) == 1
    with pytest.raises(BrokerDataLost, match="re-created"):
        serving.check_broker_loss()  # rejoined: now exit for a clean restart
