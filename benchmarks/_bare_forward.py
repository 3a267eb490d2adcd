"""The bare batched forward pass, in a process of its own, timed on demand.

``benchmarks/serving.py`` compares ``streamtune serve`` processes with this one: the same
model and the same batches, in a fresh interpreter with nothing else running in it, just
as each server runs in its own. (Timed inside the benchmark's own process instead, with
its producers and progress display, the bare pass came out slower than a server's own
forward passes.)

Protocol: after loading and a warm-up it prints ``{"ready": true}``; then each line on
stdin asks for one measurement and gets one JSON line back, ``{"texts_per_s": ...}``. It
exits at the end of its input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from learners import build_initial, default_model_path, tokenize  # noqa: E402
from streams.datasets import natural  # noqa: E402


def bare_forward(model: Any, tokenizer: Any, texts: list[str], batch: int) -> float:
    """Texts/s of tokenise + forward at ``batch``, the serving model's own code path."""
    device = torch.device("cpu")
    with torch.inference_mode():
        t0 = time.perf_counter()
        for i in range(0, len(texts), batch):
            logits = model(tokenize(tokenizer, texts[i : i + batch], 128, device))
            torch.softmax(logits, dim=-1).numpy()
        return len(texts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, required=True, help="the first N natural tweets")
    ap.add_argument("--batch", type=int, required=True)
    args = ap.parse_args()
    stream = natural(limit=args.texts)
    texts = [e.text for e in stream.events]
    model, tokenizer = build_initial(
        default_model_path(), list(stream.labels), dict(stream.descriptions)
    )
    model.eval()
    bare_forward(model, tokenizer, texts[: args.batch * 2], args.batch)
    print(json.dumps({"ready": True}), flush=True)
    for _ in sys.stdin:
        rate = bare_forward(model, tokenizer, texts, args.batch)
        print(json.dumps({"texts_per_s": rate}), flush=True)


if __name__ == "__main__":
    main()
