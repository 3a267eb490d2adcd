"""Shared benchmark plumbing: machine facts, JSON output, percentiles."""

from __future__ import annotations

import json
import os
import platform
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import torch
from prometheus_client.parser import text_string_to_metric_families


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }


def percentiles(values: list[float], qs: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
    """Named percentiles (``p50``...) of ``values``; empty input gives NaN."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {f"p{q:g}": float("nan") for q in qs}
    return {f"p{q:g}": float(np.percentile(arr, q)) for q in qs}


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write results as indented JSON, creating the folder."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return out


def scrape(port: int, host: str = "127.0.0.1") -> dict[str, dict[str, float]]:
    """``/metrics`` as ``{sample name: {label string: value}}``."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode("utf-8")
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out.setdefault(s.name, {})[labels] = float(s.value)
    return out
