"""Learner throughput per scope against a bare PyTorch training loop, in one run.

For each scope the same model (deep copies of version 0), the same trainable parameters,
the same batch size and the same (fused) AdamW run two ways, alternated ``--repeats``
times so a noisy shared machine hits both alike; the median of each side is reported:

1. **bare**: tokenise (or stack embeddings, for ``head``), forward, mean cross-entropy,
   backward, optimizer step. Nothing else.
2. **learner**: :meth:`IncrementalLearner.learn` with per-user caps, label lookup,
   replay at ``--replay-fraction``, gradient clipping, weighted loss, per-example losses.
   Each call gets ``batch - replay`` new examples so a step trains ``batch`` examples,
   as the bare loop does.

``examples_per_s`` counts every example a step trains (new plus replayed) and is what the
ratio compares; ``new_examples_per_s`` counts only new ones (what a stream feeds in).
Texts are synthetic seeded word sequences; ``head`` uses random unit vectors as stored
embeddings (its speed does not depend on their values).

Run: ``.venv/bin/python benchmarks/learner.py`` (``--help`` for sizes). Writes
``benchmarks/results/learner.json``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import machine, write_json  # noqa: E402
from learners import (  # noqa: E402
    SCOPES,
    Example,
    IncrementalLearner,
    LearnerConfig,
    Scope,
    TextClassifier,
    apply_scope,
    build_initial,
    default_model_path,
    replay_count,
    tokenize,
)

console = Console(stderr=True)
LABELS = ["business", "entertainment", "politics", "sport", "tech"]
SENTENCES = [
    "the market rose sharply after strong results from the bank while the minister said",
    "new rules would follow a vote in parliament next week as fans watched the match end",
    "in a late goal for the home side and the film won praise for its music phone chip",
    "software launch shares fell growth election coach season album release network data",
]
WORDS = [word for sentence in SENTENCES for word in sentence.split()]
TARGETS = {
    "head": ("new_examples_per_s", 2000.0),
    "top_k": ("ratio", 0.85),
    "full": ("ratio", 0.85),
}


def make_examples(n: int, dim: int, seed: int) -> list[Example]:
    """Seeded synthetic labelled texts with unit-vector embeddings and 50 users."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(12, 40)))
        emb = rng.standard_normal(dim).astype(np.float32)
        out.append(
            Example(
                event_id=f"b{i}",
                text=" ".join(words),
                label=LABELS[int(rng.integers(len(LABELS)))],
                embedding=emb / np.linalg.norm(emb),
                user_id=f"user{int(rng.integers(50))}",
            )
        )
    return out


def bare_loop(
    model: TextClassifier,
    tokenizer: Any,
    scope: Scope,
    args: argparse.Namespace,
    data: list[Example],
) -> Callable[[int], float]:
    """A plain training loop; returns a function running ``steps`` steps, giving seconds."""
    params = apply_scope(model, scope, args.top_k)
    opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
    device = torch.device("cpu")
    index = {label: i for i, label in enumerate(model.labels)}
    targets = torch.tensor([index[ex.label] for ex in data])
    embs = torch.from_numpy(np.stack([ex.embedding for ex in data]))  # type: ignore[misc]
    texts = [ex.text for ex in data]
    b = args.batch

    def run(steps: int) -> float:
        t0 = time.perf_counter()
        for step in range(steps):
            start = (step * b) % (len(data) - b)
            if scope == "head":
                logits = model.head(embs[start : start + b])
            else:
                logits = model(
                    tokenize(tokenizer, texts[start : start + b], args.max_seq_len, device)
                )
            loss = torch.nn.functional.cross_entropy(logits, targets[start : start + b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    return run


def learner_loop(
    learner: IncrementalLearner, args: argparse.Namespace, data: list[Example]
) -> Callable[[int], tuple[float, int, int]]:
    """Steps of the learner; returns seconds, examples trained (all) and new examples."""
    n_new = args.batch
    while n_new + replay_count(n_new, args.replay_fraction) > args.batch:
        n_new -= 1
    cursor = [0]

    def run(steps: int) -> tuple[float, int, int]:
        total = new = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            start = cursor[0] % (len(data) - n_new)
            cursor[0] += n_new
            result = learner.learn(data[start : start + n_new])
            total += result.n_trained + result.n_replayed
            new += result.n_trained
        return time.perf_counter() - t0, total, new

    return run


def bench_scope(
    scope: Scope,
    base: TextClassifier,
    tokenizer: Any,
    args: argparse.Namespace,
    data: list[Example],
    progress: Progress,
) -> dict[str, Any]:
    steps = args.head_steps if scope == "head" else args.encoder_steps
    config = LearnerConfig(
        scope=scope,
        top_k=args.top_k,
        lr=1e-4,
        replay_fraction=args.replay_fraction,
        max_seq_len=args.max_seq_len,
        seed=0,
        step_examples=None,  # one optimizer step per call, as the bare loop takes
    )
    learner = IncrementalLearner(copy.deepcopy(base), tokenizer, config)
    bare = bare_loop(copy.deepcopy(base), tokenizer, scope, args, data)
    run_learner = learner_loop(learner, args, data)
    bare(1), run_learner(2)  # warm-up; the second learner step already replays
    bare_rates, rates, new_rates = [], [], []
    task = progress.add_task(f"{scope:5s}", total=2 * args.repeats)
    for _ in range(args.repeats):
        bare_rates.append(steps * args.batch / bare(steps))
        progress.advance(task)
        seconds, total, new = run_learner(steps)
        rates.append(total / seconds)
        new_rates.append(new / seconds)
        progress.advance(task)
    row: dict[str, Any] = {
        "steps_per_repeat": steps,
        "bare_examples_per_s": statistics.median(bare_rates),
        "learner_examples_per_s": statistics.median(rates),
        "learner_new_examples_per_s": statistics.median(new_rates),
        "runs": {"bare": bare_rates, "learner": rates, "learner_new": new_rates},
    }
    row["ratio"] = row["learner_examples_per_s"] / row["bare_examples_per_s"]
    metric, target = TARGETS[scope]
    value = row["ratio"] if metric == "ratio" else row["learner_new_examples_per_s"]
    row["target"] = {"metric": metric, "at_least": target, "met": value >= target}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "learner.json"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--head-steps", type=int, default=300)
    parser.add_argument("--encoder-steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--replay-fraction", type=float, default=0.25)
    parser.add_argument("--max-seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 keeps torch's")
    parser.add_argument("--scopes", default=",".join(SCOPES))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base, tokenizer = build_initial(default_model_path(), LABELS)
    data = make_examples(max(4096, 4 * args.batch), base.dim, seed=0)
    lengths = [len(tokenizer(ex.text)["input_ids"]) for ex in data[:512]]
    results: dict[str, Any] = {}
    with Progress(console=console) as progress:
        for scope in args.scopes.split(","):
            results[scope] = bench_scope(scope, base, tokenizer, args, data, progress)
    report = {
        "benchmark": "learner",
        "machine": machine(),
        "settings": {
            "batch": args.batch,
            "top_k": args.top_k,
            "replay_fraction": args.replay_fraction,
            "max_seq_len": args.max_seq_len,
            "repeats": args.repeats,
            "mean_tokens_per_text": float(np.mean(lengths)),
            "optimizer": "AdamW(fused=True)",
        },
        "scopes": results,
    }
    out = write_json(args.out, report)
    for scope, row in results.items():
        console.print(
            f"{scope:5s} learner {row['learner_examples_per_s']:9.1f} ex/s "
            f"(new {row['learner_new_examples_per_s']:9.1f})  bare "
            f"{row['bare_examples_per_s']:9.1f} ex/s  ratio {row['ratio']:.2f}  "
            f"target {'met' if row['target']['met'] else 'MISSED'}"
        )
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
