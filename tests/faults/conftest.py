"""Fault-injection fixtures: the integration fixtures, plus the results table.

Scenarios that stop the broker or Redis start their own on a fixed port (never the
session's, never the machine's Redis), so a restart comes back at the same address.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import Settings
from tests.faults.ledger import Report, rows_table
from tests.integration.conftest import broker, redis_url, settings, start_proc
from tests.integration.helpers import clear_redis
from tests.integration.helpers import isolated_settings as _isolated

__all__ = [
    "broker",
    "clear_redis",
    "fault_results",
    "isolated_settings",
    "redis_url",
    "settings",
    "start_proc",
]

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "faults.json"


def isolated_settings(bootstrap: str, redis_url: str, tmp_path: Path, **extra: Any) -> Settings:
    """:func:`tests.integration.helpers.isolated_settings` with the ``fault:`` Redis prefix."""
    return _isolated(bootstrap, redis_url, tmp_path, kind="fault", **extra)


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
