"""S1: SIGKILL a serving consumer 3 times mid-stream; nothing is lost, duplicates bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from schemas import Settings
from streams import make_producer
from tests.faults.ledger import Ledger, Report, Watch, text_items

pytestmark = [pytest.mark.integration, pytest.mark.faults]

N = 900
KILLS = 3
BACKLOG = 200


def _ready(proc: Any) -> bool:
    # In the group, not only loaded: killing a member in the middle of its join is another
    # scenario (Tansu can elect the dead member leader, then the SyncGroup waits 5 s).
    return "rebalance done in" in proc.log()


def test_sigkill_serving_three_times_loses_nothing(
    settings: Settings, start_proc: Any, fault_results: Callable[[Report], None]
) -> None:
    procs = [start_proc(settings, "serve"), start_proc(settings, "serve")]
    ledger = Ledger("S1 SIGKILL serving x3")
    watch = Watch(settings, ledger)
    producer = make_producer(settings)
    items = text_items("k", N)
    sent = 0

    def tick() -> None:
        # Keep a bounded backlog so the stream is still running at every kill.
        nonlocal sent
        done = len(ledger.predicted_counts())
        if sent < N and sent - done < BACKLOG:
            k = min(N, sent + 50) - sent
            assert watch.send(producer, items[sent : sent + k]) == k
            sent += k

    def progress(led: Ledger) -> float:
        return len(led.predicted_counts()) / N

    assert watch.until(lambda _: all(_ready(p) for p in procs), 120, tick)
    for i in range(KILLS):
        victim = i % 2
        threshold = 0.2 * (i + 1)

        def reached(led: Ledger, t: float = threshold) -> bool:
            return progress(led) >= t

        assert watch.until(reached, 120, tick)
        procs[victim].kill()
        assert procs[victim].popen.returncode == -9
        ledger.fault(f"kill {i + 1}")
        if i == KILLS - 1:
            procs.pop(victim)  # the survivor finishes the stream alone
            break
        procs[victim] = start_proc(settings, "serve")

        # The restarted member is up before the next kill, so each kill hits a live group.
        def up(_: Ledger, p: Any = procs[victim]) -> bool:
            return _ready(p)

        assert watch.until(up, 120, tick)
    assert watch.until(lambda led: sent >= N and not led.unpredicted(), 120, tick)
    watch.close()
    producer.close()
    assert all(p.popen.poll() is None for p in procs)
    report = ledger.reconcile()
    assert report.sent == N
    # A kill replays at most the uncommitted batches in flight: the victim's, plus those
    # whose commit failed in the two rebalances it causes.
    assert report.duplicates <= KILLS * 4 * settings.serve_max_batch, report
    fault_results(report)
