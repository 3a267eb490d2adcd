"""Fault-injection fixtures: the integration fixtures, plus the results table.

Scenarios that stop the broker or Redis start their own on a fixed port (never the
session's, never the machine's Redis), so a restart comes back at the same address.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from schemas import Settings
from streams import ensure_topics
from tests.faults.ledger import Report, rows_table
from tests.integration.conftest import broker, redis_url, settings, start_proc

__all__ = ["broker", "fault_results", "isolated_settings", "redis_url", "settings", "start_proc"]

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "faults.json"


def isolated_settings(bootstrap: str, redis_url: str, tmp_path: Path, **extra: Any) -> Settings:
    """Settings with a unique topic prefix, groups and Redis prefix; topics created."""
    tag = uuid.uuid4().hex[:10]
    s = Settings(
        bootstrap_servers=bootstrap,
        redis_url=redis_url,  # type: ignore[arg-type]
        topic_prefix=f"f{tag}.",
        redis_prefix=f"fault:{tag}:",
        serving_group=f"serving-{tag}",
        worker_group=f"worker-{tag}",
        artifact_dir=str(tmp_path / "artifacts"),
        labels=("sport", "politics", "technology", "business", "entertainment"),
        partitions=3,
        serve_max_batch=32,
        torch_threads=1,
        **extra,
    )
    ensure_topics(s)
    return s


def clear_redis(url: str, prefix: str) -> None:
    """Delete a test's keys."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def fault_results() -> Iterator[Callable[[Report], None]]:
    """Collects scenario reports; merges them into ``benchmarks/results/faults.json``."""
    rows: list[dict[str, Any]] = []

    def add(report: Report) -> None:
        print(report)
        rows.append(report.row())

    yield add
    if not rows:
        return
    old: list[dict[str, Any]] = []
    if RESULTS.exists():
        old = json.loads(RESULTS.read_text()).get("rows", [])
    names = {r["scenario"] for r in rows}
    merged = sorted(
        [r for r in old if r["scenario"] not in names] + rows, key=lambda r: r["scenario"]
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": merged, "table": rows_table(merged)}, indent=2) + "\n")
