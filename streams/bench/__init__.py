"""``streamtune bench``: streamtune and its baselines on the same drifting streams, in one run.

streamtune is replayed in-process with the worker's and serving's own logic (see
``_sim``); one run of the real system (broker, serve, worker) measures freshness, latency,
throughput and memory. Results: ``bench.json`` and PNGs in the output folder.
"""

from streams.bench._cli import build_parser, main
from streams.bench._config import BASELINES, BENCH_STREAMS, WORKER_OVERRIDES, BenchConfig
from streams.bench._run import build_stream, claims, run_bench
from streams.bench._sim import MemoryRegistry, SimResult, simulate

__all__ = [
    "BASELINES",
    "BENCH_STREAMS",
    "WORKER_OVERRIDES",
    "BenchConfig",
    "MemoryRegistry",
    "SimResult",
    "build_parser",
    "build_stream",
    "claims",
    "main",
    "run_bench",
    "simulate",
]
