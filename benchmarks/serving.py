"""Serving throughput and latency against the bare batched forward pass, in one run.

Measures, on the same machine and in the same run:

1. **bare forward**: tokenise + forward pass of the same model at the same batch size,
   no Kafka, no Redis (the ceiling);
2. **serving throughput**: N texts are pre-produced to the texts topic, then one
   ``streamtune serve`` process drains them; texts/s from its first to its last prediction
   as seen by a consumer of the predictions topic (model load excluded);
3. **serving latency**: texts produced at a fixed rate (a fraction of the measured
   throughput); end-to-end latency = prediction consumed minus text produced, same clock.

Run: ``.venv/bin/python benchmarks/serving.py`` (``--help`` for sizes). Writes
``benchmarks/results/serving.json``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import machine, percentiles, write_json  # noqa: E402
from learners import build_initial, default_model_path, tokenize  # noqa: E402
from schemas import Prediction, Settings, TextEvent  # noqa: E402
from streams import EmbeddedBroker, EmbeddedRedis, ensure_topics, make_producer  # noqa: E402
from streams._process import python_env, spawn, stop  # noqa: E402
from streams._redis_server import redis_answers  # noqa: E402
from streams._tail import open_tail  # noqa: E402
from streams.datasets import natural  # noqa: E402

console = Console(stderr=True)


def bare_forward(texts: list[str], labels: list[str], desc: dict[str, str], batch: int) -> float:
    """Texts/s of tokenise + forward at ``batch``, the serving model's own code path."""
    model, tokenizer = build_initial(default_model_path(), labels, desc)
    model.eval()
    device = torch.device("cpu")
    with torch.inference_mode():
        model(tokenize(tokenizer, texts[:batch], 128, device))  # warm-up
        t0 = time.perf_counter()
        for i in range(0, len(texts), batch):
            logits = model(tokenize(tokenizer, texts[i : i + batch], 128, device))
            torch.softmax(logits, dim=-1).numpy()
        return len(texts) / (time.perf_counter() - t0)


def drain(
    settings: Settings, ids: set[str], timeout: float, progress: Progress
) -> dict[str, float]:
    """Consume predictions until every id is seen; returns id → arrival time."""
    consumer = open_tail(settings, settings.topics.predictions, from_beginning=True)
    seen: dict[str, float] = {}
    task = progress.add_task("predictions", total=len(ids))
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < len(ids) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=100).values():
                now = time.perf_counter()
                for r in records:
                    pid = Prediction.model_validate_json(r.value).event_id
                    if pid in ids:
                        seen.setdefault(pid, now)
            progress.update(task, completed=len(seen))
    finally:
        consumer.close()
        progress.remove_task(task)
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2000, help="texts for throughput")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latency-texts", type=int, default=600)
    ap.add_argument("--load", type=float, default=0.5, help="latency run rate, share of capacity")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serving.json"))
    args = ap.parse_args()

    stream = natural(limit=args.texts + args.latency_texts)
    labels = list(stream.labels)
    desc = dict(stream.descriptions)
    texts = [e.text for e in stream.events]
    console.print(f"{len(texts)} health tweets, {len(labels)} labels, batch {args.batch}")

    bare = bare_forward(texts[: args.texts], labels, desc, args.batch)
    console.print(f"bare forward: {bare:.1f} texts/s")

    tag = uuid.uuid4().hex[:8]
    with EmbeddedBroker() as broker:
        redis_server = None
        redis_url = "redis://127.0.0.1:6379/0"
        if not redis_answers(redis_url):
            redis_server = EmbeddedRedis()
            redis_url = redis_server.start()
        settings = Settings(
            bootstrap_servers=broker.bootstrap,
            redis_url=redis_url,  # type: ignore[arg-type]
            topic_prefix=f"bench{tag}.",
            redis_prefix=f"bench:{tag}:",
            serving_group=f"serving-{tag}",
            labels=tuple(labels),
            label_descriptions=desc,
            serve_max_batch=args.batch,
            prediction_ttl_s=600,
        )
        ensure_topics(settings)
        producer = make_producer(settings)
        events = [TextEvent(event_id=f"t{i}", text=t) for i, t in enumerate(texts)]
        for e in events[: args.texts]:
            producer.send(settings.topics.texts, key=e.event_id.encode(), value=e.to_bytes())
        producer.flush()

        env = python_env({**settings.to_env(), "HF_HUB_OFFLINE": "1"})
        log_path = str(ROOT / "benchmarks" / "results" / f"serve-{tag}.log.tmp")
        proc = spawn([sys.executable, "-m", "streams.cli", "serve"], env=env, log_path=log_path)
        try:
            with Progress(console=console) as progress:
                seen = drain(settings, {e.event_id for e in events[: args.texts]}, 600, progress)
                times = sorted(seen.values())
                serving = (len(times) - 1) / (times[-1] - times[0])
                console.print(f"serving: {serving:.1f} texts/s ({serving / bare:.1%} of bare)")

                # Latency at a fixed rate below capacity.
                rate = serving * args.load
                lat_events = events[args.texts :]
                sent_at: dict[str, float] = {}
                # Consume while producing, so arrival times are real arrival times.
                arrived: dict[str, float] = {}
                lat_ids = {e.event_id for e in lat_events}
                reader = threading.Thread(
                    target=lambda: arrived.update(drain(settings, lat_ids, 300, progress))
                )
                reader.start()
                task = progress.add_task(f"latency run at {rate:.0f}/s", total=len(lat_events))
                t0 = time.perf_counter()
                for i, e in enumerate(lat_events):
                    due = t0 + i / rate
                    while (now := time.perf_counter()) < due:
                        time.sleep(min(0.002, due - now))
                    sent_at[e.event_id] = time.perf_counter()
                    producer.send(
                        settings.topics.texts, key=e.event_id.encode(), value=e.to_bytes()
                    )
                    producer.flush()
                    progress.update(task, completed=i + 1)
                reader.join()
        finally:
            stop(proc)
            producer.close()
            if redis_server is not None:
                redis_server.stop()
            Path(log_path).unlink(missing_ok=True)
    latencies = [(arrived[k] - sent_at[k]) * 1000 for k in sent_at if k in arrived]
    result: dict[str, Any] = {
        "benchmark": "serving",
        "machine": machine(),
        "texts": args.texts,
        "batch_size": args.batch,
        "dataset": "healthtweets natural (first N, all outlets)",
        "bare_forward_texts_per_s": round(bare, 2),
        "serving_texts_per_s": round(serving, 2),
        "ratio_serving_to_bare": round(serving / bare, 4),
        "target_ratio": 0.85,
        "meets_target": serving / bare >= 0.85,
        "latency_run": {
            "rate_texts_per_s": round(rate, 2),
            "texts": len(lat_events),
            "received": len(latencies),
            "end_to_end_ms": {k: round(v, 2) for k, v in percentiles(latencies).items()},
        },
    }
    out = write_json(args.out, result)
    console.print_json(data=result)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
