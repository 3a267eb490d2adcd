"""S5: Redis is down for 10 s, then back on the same port (empty: it is memory-only).

Serving keeps predicting from its in-memory model while record writes fail (counted in
its log, no crash), and writes records again once Redis answers, without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from schemas import Settings
from serving import RecordStore
from streams import EmbeddedRedis, make_producer, make_redis
from tests.faults.conftest import isolated_settings
from tests.faults.ledger import Ledger, Report, Watch, text_items

pytestmark = [pytest.mark.integration, pytest.mark.faults]

OUTAGE_S = 10.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis this test may stop and start again on the same port."""
    server = EmbeddedRedis(log_dir=str(tmp_path))
    server.start()
    yield server
    server.stop()


def test_redis_outage_serving_predicts_on_and_recovers(
    broker: Any,
    own_redis: EmbeddedRedis,
    tmp_path: Path,
    start_proc: Any,
    fault_results: Callable[[Report], None],
) -> None:
    settings: Settings = isolated_settings(broker.bootstrap, own_redis.url, tmp_path)
    proc = start_proc(settings, "serve")
    ledger = Ledger("S5 Redis down 10 s")
    watch = Watch(settings, ledger)
    producer = make_producer(settings)
    store = RecordStore(make_redis(settings), settings.redis_prefix, settings.prediction_ttl_s)
    counter = iter(range(100_000))

    def tick() -> None:
        watch.send(producer, text_items("r", 5, start=5 * next(counter)))

    assert watch.send(producer, text_items("pre", 30)) == 30
    assert watch.all_predicted(120)
    assert store.get("pre-0") is not None

    own_redis.stop()
    down_at = time.monotonic()
    during_from = len(ledger.acks)
    # The outage lasts OUTAGE_S while texts keep coming; serving must keep answering.
    watch.until(lambda _: time.monotonic() - down_at >= OUTAGE_S, OUTAGE_S + 5, tick)
    during = {a.event_id for a in ledger.acks[during_from:]}
    assert during
    assert watch.until(lambda led: during <= set(led.predicted_counts()), 60)
    assert proc.popen.poll() is None, "no crash while Redis is down"
    assert "could not store" in proc.log()

    own_redis.start()
    ledger.fault("redis back")
    back = time.monotonic()
    after_from = len(ledger.acks)

    def records_again(led: Ledger) -> bool:
        ids = [a.event_id for a in led.acks[after_from:] if a.event_id in led.predicted_counts()]
        try:
            return any(store.get(eid) is not None for eid in ids[-5:])
        except redis.RedisError:  # the client reconnects on the next call
            return False

    assert watch.until(records_again, 60, tick), "records are written again after Redis returns"
    ledger.recovered("redis back", time.monotonic() - back)
    assert watch.all_predicted(60)
    watch.close()
    producer.close()
    assert proc.popen.poll() is None
    report = ledger.reconcile()
    report.extra["predicted_while_down"] = len(during)
    fault_results(report)
