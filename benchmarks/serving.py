"""Serving throughput and latency against the bare batched forward pass, in one run.

Measures, on the same machine and in the same run, in paired rounds:

1. **bare forward**: tokenise + forward pass of the same model at the same batch size,
   no Kafka, no Redis (the ceiling), in a process of its own like each server
   (``benchmarks/_bare_forward.py``);
2. **serving throughput** of two ``streamtune serve`` processes, each on its own topics
   and group, fed in turn: the default one (forward pass pipelined with the I/O,
   ``serve_pipeline``) and one that does each step after the other
   (``STREAMTUNE_SERVE_PIPELINE=false``). A round's texts are produced to one process's
   texts topic and its rate is the steady state seen by a consumer of its predictions
   topic: the predictions after the first batch over the time from the first to the last
   one (model load and group join excluded by a warm-up). ``drain_*`` times the same
   from the first text sent instead, so one batch's fill time counts against serving.
   The round's texts go to one partition, in order, so serving forms the same batches as
   the bare pass: texts drawn from several partitions pad about 8% more tokens per batch
   (measured on these tweets), which would be a difference in work, not in overhead.
   Each round also reads the server's ``streamtune_model_latency_seconds`` to report how
   busy its model was and how fast its forward pass ran inside the server;
3. **serving latency** of each: texts produced at a fixed rate (a fraction of its measured
   throughput); end-to-end latency = prediction consumed minus text produced, same clock.

The box these numbers come from is a shared 2-core VM whose speed drifts by a third within
minutes, so each round measures the bare forward pass and both servers back to back on the
same texts, and the ratios are taken round by round (the reported ratio is their median).

Run: ``.venv/bin/python benchmarks/serving.py`` (``--help`` for sizes). Writes
``benchmarks/results/serving.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import machine, percentiles, scrape, write_json  # noqa: E402
from schemas import Prediction, Settings, TextEvent  # noqa: E402
from streams import EmbeddedBroker, EmbeddedRedis, ensure_topics, make_producer  # noqa: E402
from streams._process import free_port, python_env, spawn, stop  # noqa: E402
from streams._redis_server import redis_answers  # noqa: E402
from streams._tail import open_tail  # noqa: E402
from streams.datasets import natural  # noqa: E402

console = Console(stderr=True)
MODES = ("pipelined", "sequential")


class BareForward:
    """The bare forward pass in its own process (``benchmarks/_bare_forward.py``)."""

    def __init__(self, texts: int, batch: int) -> None:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "_bare_forward.py")]
        cmd += ["--texts", str(texts), "--batch", str(batch)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self._read()  # ready: model loaded and warmed up

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bare forward process exited ({self.proc.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def measure(self) -> float:
        """Texts/s of one pass over its texts."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return float(self._read()["texts_per_s"])

    def close(self) -> None:
        """End its input and wait for it."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(30)


def drain(
    settings: Settings, ids: set[str], timeout: float, progress: Progress
) -> dict[str, float]:
    """Consume predictions until every id is seen; returns id → arrival time."""
    consumer = open_tail(settings, settings.topics.predictions, from_beginning=True)
    seen: dict[str, float] = {}
    task = progress.add_task(f"predictions {settings.topic_prefix}", total=len(ids))
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


@dataclass
class Server:
    """One ``streamtune serve`` process and the settings of its own topics."""

    mode: str
    settings: Settings
    producer: Any

    def model_seconds(self) -> float:
        """Seconds this server has spent in forward passes (from its metrics endpoint)."""
        s = self.settings
        sums = scrape(s.metrics_port, s.metrics_host).get("streamtune_model_latency_seconds_sum")
        return (sums or {}).get("stage=serve", 0.0)

    def send(
        self, events: list[TextEvent], rate: float | None = None, partition: int | None = None
    ) -> dict[str, float]:
        """Produce ``events`` (all at once, or at ``rate``/s); returns id → send time."""
        sent: dict[str, float] = {}
        t0 = time.perf_counter()
        for i, e in enumerate(events):
            if rate is not None:
                due = t0 + i / rate
                while (now := time.perf_counter()) < due:
                    time.sleep(min(0.002, due - now))
            sent[e.event_id] = time.perf_counter()
            self.producer.send(
                self.settings.topics.texts,
                key=e.event_id.encode(),
                value=e.to_bytes(),
                partition=partition,
            )
            if rate is not None:
                self.producer.flush()
        self.producer.flush()
        return sent

    def serve(
        self,
        events: list[TextEvent],
        progress: Progress,
        rate: float | None = None,
        partition: int | None = None,
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Send ``events`` while a reader records arrivals; returns (sent, arrived)."""
        arrived: dict[str, float] = {}
        ids = {e.event_id for e in events}
        reader = threading.Thread(
            target=lambda: arrived.update(drain(self.settings, ids, 600, progress))
        )
        reader.start()
        sent = self.send(events, rate, partition)
        reader.join()
        return sent, arrived


def throughput(arrived: dict[str, float]) -> float:
    """Steady-state texts/s: predictions after the first batch over the time they took.

    The first batch's predictions arrive together and mark the start; counting them too
    would credit serving with one batch it was not timed on.

    Examples
    --------
    >>> throughput({"a": 1.0, "b": 1.0, "c": 2.0, "d": 3.0})
    1.0
    """
    start = min(arrived.values())
    after = [t for t in arrived.values() if t > start]
    return len(after) / (max(after) - start)


def drain_rate(sent: dict[str, float], arrived: dict[str, float]) -> float:
    """Texts/s from the first text sent to the last prediction (fill time included)."""
    return len(arrived) / (max(arrived.values()) - min(sent.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=640, help="texts per round and per server")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latency-texts", type=int, default=600)
    ap.add_argument("--load", type=float, default=0.5, help="latency run rate, share of capacity")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serving.json"))
    args = ap.parse_args()

    stream = natural(limit=max(args.texts, args.latency_texts))
    labels = list(stream.labels)
    desc = dict(stream.descriptions)
    texts = [e.text for e in stream.events]
    console.print(
        f"{len(texts)} health tweets, {len(labels)} labels, batch {args.batch}, "
        f"{args.rounds} rounds of {args.texts} texts"
    )
    bare = BareForward(args.texts, args.batch)

    tag = uuid.uuid4().hex[:8]
    procs = []
    logs: list[Path] = []
    rounds: list[dict[str, Any]] = []
    latency: dict[str, Any] = {}
    with EmbeddedBroker() as broker:
        redis_server = None
        redis_url = "redis://127.0.0.1:6379/0"
        if not redis_answers(redis_url):
            redis_server = EmbeddedRedis()
            redis_url = redis_server.start()
        servers: dict[str, Server] = {}
        try:
            for mode in MODES:
                settings = Settings(
                    bootstrap_servers=broker.bootstrap,
                    redis_url=redis_url,  # type: ignore[arg-type]
                    topic_prefix=f"bench{tag}{mode}.",
                    redis_prefix=f"bench:{tag}:{mode}:",
                    serving_group=f"serving-{tag}-{mode}",
                    labels=tuple(labels),
                    label_descriptions=desc,
                    serve_max_batch=args.batch,
                    serve_pipeline=mode == "pipelined",
                    metrics_port=free_port(),
                    prediction_ttl_s=600,
                )
                ensure_topics(settings)
                servers[mode] = Server(mode, settings, make_producer(settings))
                env = python_env({**settings.to_env(), "HF_HUB_OFFLINE": "1"})
                logs.append(ROOT / "benchmarks" / "results" / f"serve-{tag}-{mode}.log.tmp")
                cmd = [sys.executable, "-m", "streams.cli", "serve"]
                procs.append(spawn(cmd, env=env, log_path=str(logs[-1])))

            def events(prefix: str, n: int) -> list[TextEvent]:
                return [TextEvent(event_id=f"{prefix}-{i}", text=texts[i]) for i in range(n)]

            with Progress(console=console) as progress:
                for mode, server in servers.items():  # model load and group join
                    server.serve(events(f"warm-{mode}", args.batch * 2), progress)
                for r in range(args.rounds):
                    row: dict[str, Any] = {"round": r + 1}
                    order = ["bare", *MODES] if r % 2 == 0 else [*reversed(MODES), "bare"]
                    for step in order:
                        if step == "bare":
                            row["bare"] = bare.measure()
                        else:
                            busy0 = servers[step].model_seconds()
                            # One partition: serving then batches the texts in the order
                            # the bare pass does, so both pad the same batches.
                            sent, arrived = servers[step].serve(
                                events(f"r{r}-{step}", args.texts), progress, partition=0
                            )
                            row[step] = throughput(arrived)
                            row[f"drain_{step}"] = drain_rate(sent, arrived)
                            # Share of the wall time from the first to the last prediction
                            # that the model spent in forward passes (about 1: model-bound).
                            wall = max(arrived.values()) - min(arrived.values())
                            busy = servers[step].model_seconds() - busy0
                            row[f"model_busy_{step}"] = busy / wall
                            # The forward pass's own speed while serving, against bare.
                            row[f"forward_{step}"] = len(arrived) / busy
                    for mode in MODES:
                        row[f"ratio_{mode}"] = row[mode] / row["bare"]
                        row[f"drain_ratio_{mode}"] = row[f"drain_{mode}"] / row["bare"]
                    rounds.append({k: round(v, 4) for k, v in row.items()})
                    console.print(
                        f"round {r + 1}: bare {row['bare']:.1f}/s, "
                        + ", ".join(
                            f"{m} {row[m]:.1f}/s ({row[f'ratio_{m}']:.2f}; model busy "
                            f"{row[f'model_busy_{m}']:.0%}, forward {row[f'forward_{m}']:.1f}/s)"
                            for m in MODES
                        )
                    )
                for mode, server in servers.items():
                    rate = args.load * statistics.median(row[mode] for row in rounds)
                    sent, arrived = server.serve(
                        events(f"lat-{mode}", args.latency_texts), progress, rate=rate
                    )
                    lat = [(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived]
                    latency[mode] = {
                        "rate_texts_per_s": round(rate, 2),
                        "texts": len(sent),
                        "received": len(lat),
                        "end_to_end_ms": {k: round(v, 2) for k, v in percentiles(lat).items()},
                    }
        finally:
            bare.close()
            for proc in procs:
                stop(proc)
            for server in servers.values():
                server.producer.close()
            if redis_server is not None:
                redis_server.stop()
            for log in logs:
                log.unlink(missing_ok=True)

    def med(key: str) -> float:
        return round(statistics.median(row[key] for row in rounds), 4)

    ratio = med("ratio_pipelined")
    result: dict[str, Any] = {
        "benchmark": "serving",
        "machine": machine(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "texts_per_round": args.texts,
        "rounds": args.rounds,
        "batch_size": args.batch,
        "dataset": "healthtweets natural (first N, all outlets)",
        "bare_forward_texts_per_s": med("bare"),
        "serving_texts_per_s": med("pipelined"),
        "ratio_serving_to_bare": ratio,
        "target_ratio": 0.85,
        "meets_target": ratio >= 0.85,
        "sequential_serving_texts_per_s": med("sequential"),
        "ratio_sequential_to_bare": med("ratio_sequential"),
        # The same, timed from the first text sent (one batch's fill time included).
        "drain_ratio_serving_to_bare": med("drain_ratio_pipelined"),
        "drain_ratio_sequential_to_bare": med("drain_ratio_sequential"),
        "per_round": rounds,
        "latency_run": latency,
    }
    out = write_json(args.out, result)
    console.print_json(data=result)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
