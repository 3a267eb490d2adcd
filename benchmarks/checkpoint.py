"""What the training state costs a checkpoint: write time and size, with and without it.

For each scope the worker's own trainer (:class:`streams.worker.LearnerTrainer`, default
settings) fills its replay buffer from the vendored health tweets, then writes
``--versions`` checkpoints twice, alternating: weights only
(``checkpoint_train_state=false``, the baseline) and weights plus the optimizer moments
and replay buffer (the default). A write includes the fsyncs and the pruning of older
versions' training state, as in the worker. ``head`` trains on all the tweets (cheap);
``top_k`` and ``full`` take one training step (the moments exist from the first step) and
get their replay items added directly, since training an encoder on thousands of tweets
would only make the benchmark slow.

Run: ``.venv/bin/python benchmarks/checkpoint.py`` (``--help``). Writes
``benchmarks/results/checkpoint.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import machine, write_json  # noqa: E402
from learners import SCOPES, Example, Scope, checkpoint_path  # noqa: E402
from schemas import Settings  # noqa: E402
from streams.datasets import DEMO_START_MS, natural  # noqa: E402
from streams.worker import LearnerTrainer  # noqa: E402

console = Console()


def _examples(n: int, dim: int, seed: int = 0) -> list[Example]:
    stream = natural(start_ms=DEMO_START_MS, limit=n)
    rng = np.random.default_rng(seed)
    out = []
    for e in stream.events:
        v = rng.normal(size=dim)
        emb = (v / np.linalg.norm(v)).astype(np.float32)  # head speed ignores the values
        out.append(Example(e.event_id, e.text, e.label, embedding=emb))
    return out


def _trainer(scope: Scope, keep: bool, root: str, data: list[Example]) -> LearnerTrainer:
    labels = tuple(sorted({ex.label for ex in data}))
    s = Settings(artifact_dir=root, labels=labels, worker_scope=scope, checkpoint_train_state=keep)
    trainer = LearnerTrainer(s)
    trainer.resume()
    if scope == "head":
        for k in range(0, len(data), s.worker_max_batch):
            trainer.learn(data[k : k + s.worker_max_batch])
    else:
        trainer.learn(data[:16])
        assert trainer.learner is not None
        trainer.learner.replay.add(data)
    return trainer


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir())


def bench_scope(
    scope: Scope, data: list[Example], versions: int, progress: Progress
) -> dict[str, Any]:
    task = progress.add_task(f"{scope:5s}", total=2 * versions)
    times: dict[str, list[float]] = {"weights_only": [], "with_train_state": []}
    sizes: dict[str, int] = {}
    replay = 0
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        trainers = {
            "weights_only": (_trainer(scope, False, a, data), a),
            "with_train_state": (_trainer(scope, True, b, data), b),
        }
        for v in range(1, versions + 1):
            for name, (trainer, _root) in trainers.items():
                t0 = time.perf_counter()
                trainer.save(v, v - 1 or None, 0, {}, {})
                times[name].append(time.perf_counter() - t0)
                progress.advance(task)
        for name, (trainer, root) in trainers.items():
            sizes[name] = _dir_bytes(checkpoint_path(root, "default", versions))
            replay = len(trainer.learner.replay) if trainer.learner else 0
    row: dict[str, Any] = {
        "replay_items": replay,
        "write_ms": {k: 1000 * statistics.median(v) for k, v in times.items()},
        "bytes": sizes,
        "runs_ms": {k: [1000 * t for t in v] for k, v in times.items()},
    }
    row["write_ratio"] = row["write_ms"]["with_train_state"] / row["write_ms"]["weights_only"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "checkpoint.json"))
    parser.add_argument("--versions", type=int, default=7)
    parser.add_argument("--examples", type=int, default=2600, help="tweets; replay holds 2048")
    parser.add_argument("--scopes", default="head,top_k,full")
    args = parser.parse_args(argv)
    data = _examples(args.examples, 384)
    results: dict[str, Any] = {}
    with Progress(console=console) as progress:
        for scope in args.scopes.split(","):
            if scope not in SCOPES:
                parser.error(f"unknown scope {scope!r}; choose from {', '.join(SCOPES)}")
            results[scope] = bench_scope(scope, data, args.versions, progress)
    out = write_json(
        args.out,
        {
            "benchmark": "checkpoint",
            "machine": machine(),
            "settings": {"versions": args.versions, "examples": args.examples},
            "scopes": results,
        },
    )
    for scope, row in results.items():
        w, b = row["write_ms"], row["bytes"]
        console.print(
            f"{scope:5s} with training state {w['with_train_state']:7.1f} ms "
            f"{b['with_train_state'] / 1e6:7.2f} MB | weights only {w['weights_only']:7.1f} ms "
            f"{b['weights_only'] / 1e6:7.2f} MB | ratio {row['write_ratio']:.2f}"
        )
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
