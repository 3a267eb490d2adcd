"""S10 soak: ~70% of measured capacity for at least 5 minutes against serving.

Resident memory stays flat after warm-up, Redis keys stay bounded by their TTL, the lag
drains after the load stops, and the ledger shows nothing lost. Marker ``soak``: not in
CI (``.ci/run`` runs ``-m "not soak"``); run it with ``pytest -m soak -s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from schemas import Settings
from streams import make_producer
from tests.faults.conftest import clear_redis, isolated_settings
from tests.faults.ledger import Ledger, Report, Watch, text_items

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.soak,
    pytest.mark.timeout(1200),
]

SOAK_S = 300.0
WARMUP_S = 60.0
LOAD = 0.7
TTL_S = 20
CAPACITY_PROBE = 600


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def test_soak_at_seventy_percent_capacity(
    broker: Any,
    redis_url: str,
    tmp_path: Path,
    start_proc: Any,
    fault_results: Callable[[Report], None],
) -> None:
    settings: Settings = isolated_settings(
        broker.bootstrap, redis_url, tmp_path, prediction_ttl_s=TTL_S
    )
    proc = start_proc(settings, "serve")
    pid = proc.popen.pid
    ledger = Ledger("S10 soak 5 min @70%")
    watch = Watch(settings, ledger)
    producer = make_producer(settings)
    client = redis.Redis.from_url(redis_url)

    # Capacity: a burst after the model is warm.
    assert watch.send(producer, text_items("warm", 64)) == 64
    assert watch.all_predicted(180)
    t0 = time.monotonic()
    assert watch.send(producer, text_items("cap", CAPACITY_PROBE)) == CAPACITY_PROBE
    assert watch.all_predicted(300)
    capacity = CAPACITY_PROBE / (time.monotonic() - t0)
    rate = LOAD * capacity

    samples: list[tuple[float, float, int]] = []  # (elapsed s, rss MB, redis keys)
    start = time.monotonic()
    sent = 0
    next_sample = 0.0

    def tick() -> None:
        nonlocal sent, next_sample
        elapsed = time.monotonic() - start
        due = int(rate * elapsed) - sent
        if due > 0:
            watch.send(producer, text_items("soak", due, start=sent))
            sent += due
        if elapsed >= next_sample:
            keys = sum(
                1 for _ in client.scan_iter(match=f"{settings.redis_prefix}pred:*", count=1000)
            )
            samples.append((elapsed, rss_mb(pid), keys))
            next_sample = elapsed + 10.0

    watch.until(lambda _: time.monotonic() - start >= SOAK_S, SOAK_S + 30, tick)
    stopped = time.monotonic()
    assert watch.all_predicted(120), "lag drains after the load stops"
    drain_s = time.monotonic() - stopped
    watch.close()
    producer.close()
    assert proc.popen.poll() is None

    after_warmup = [s for s in samples if s[0] >= WARMUP_S]
    base = after_warmup[0][1]
    peak = max(s[1] for s in after_warmup)
    max_keys = max(s[2] for s in samples)
    print(
        f"capacity {capacity:.1f}/s, load {rate:.1f}/s, rss {base:.0f}->{samples[-1][1]:.0f} "
        f"(peak {peak:.0f}) MB, max keys {max_keys}, drain {drain_s:.1f}s"
    )
    assert peak <= base * 1.10 + 20, f"resident memory grew: {base:.0f} -> {peak:.0f} MB"
    # Live keys: at most the texts of one TTL (plus a sampling margin).
    assert max_keys <= rate * (TTL_S + 15) * 1.5, (max_keys, rate)
    report = ledger.reconcile()
    report.recovery_s = drain_s
    report.extra.update(
        capacity_per_s=round(capacity, 1),
        load_per_s=round(rate, 1),
        rss_mb_after_warmup=round(base),
        rss_mb_end=round(samples[-1][1]),
        rss_mb_peak=round(peak),
        redis_keys_max=max_keys,
        drain_s=round(drain_s, 1),
    )
    client.close()
    clear_redis(redis_url, settings.redis_prefix)
    fault_results(report)
