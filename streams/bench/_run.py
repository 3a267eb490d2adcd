"""The bench runner: every system on every stream, the real run, the claims, ``bench.json``."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from learners import TextClassifier, build_initial, default_model_path
from schemas import Settings
from streams.bench._baselines import BEST_RIVER, FrozenAfter, PeriodicRetrain, best_river
from streams.bench._config import BenchConfig
from streams.bench._metrics import clean, detection_summary, score
from streams.bench._sim import SimResult, _predict, served_embeddings, simulate
from streams.bench._systems import (
    FitOnce,
    drive,
    fit_embeddings,
    match_every,
    periodic_compute,
    ticks,
)
from streams.datasets import DEMO_OUTLETS, DEMO_START_MS, TextStream, abrupt, gradual, natural

Say = Callable[[str], None]


def build_stream(name: str, n: int, seed: int) -> TextStream:
    """The bench's version of a stream: ``n`` events, the change (if any) in the middle."""
    if name == "natural":
        return natural(outlets=DEMO_OUTLETS, start_ms=DEMO_START_MS, limit=n)
    if name == "abrupt":
        return abrupt(n_events=n, seed=seed)
    if name == "gradual":
        return gradual(n_events=n, seed=seed)
    raise ValueError(f"unknown stream {name!r}")


class Embeddings:
    """Version 0's embeddings of texts, each computed once for the whole run."""

    def __init__(self, labels: Sequence[str], descriptions: dict[str, str]) -> None:
        self.model, self.tokenizer = build_initial(default_model_path(), labels, descriptions)
        self.model.eval()
        self._cache: dict[str, np.ndarray] = {}

    def of(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (one row each)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            rows = served_embeddings(self.model, self.tokenizer, missing, 128)
            self._cache.update(zip(missing, rows, strict=True))
        return np.stack([self._cache[t] for t in texts])


def zero_shot(stream: TextStream) -> TextClassifier:
    """Version 0 for a stream's labels (the model ``static_v0`` serves)."""
    model, _ = build_initial(default_model_path(), list(stream.labels), dict(stream.descriptions))
    return model.eval()


def labels_delivered(n: int, batch: int, delay: int) -> int:
    """Labels a system receives over ``n`` events under the bench's ticks."""
    return sum(len(arrived) for _, arrived in ticks(n, batch, delay))


def _sim_entry(res: SimResult, stream: TextStream, cfg: BenchConfig) -> dict[str, Any]:
    y = [e.label for e in stream.events]
    entry = score(y, res.predictions, window=cfg.window, change_points=stream.change_points)
    entry.update(
        {
            "seconds": res.seconds,
            "events_per_s": len(y) / res.seconds if res.seconds > 0 else None,
            "compute_examples": res.compute,
            "trained": res.trained,
            "replayed": res.replayed,
            "held_out": res.held_out,
            "steps": res.steps,
            "drift_resets": res.drift_resets,
            "publications": res.publications,
            "versions_served": sorted(set(res.versions)),
            "version_changes": [
                [i, v] for i, v in enumerate(res.versions) if i == 0 or v != res.versions[i - 1]
            ],
            "detection": detection_summary(
                res.detections, stream.change_points, max_delay=max(cfg.window * 5, 1)
            ),
        }
    )
    return entry


def _timed(
    model: Any, xs: Sequence[Any], y: Sequence[str], b: int, d: int
) -> tuple[list[str | None], float]:
    t0 = time.perf_counter()
    out = drive(model, xs, y, b, d)
    return out, time.perf_counter() - t0


def run_stream(
    stream: TextStream,
    emb: Embeddings,
    cfg: BenchConfig,
    scopes: Sequence[str],
    baselines: Sequence[str],
    say: Say,
) -> dict[str, Any]:
    """Every requested system on one stream; returns ``{"systems": {...}, ...}``."""
    y = [e.label for e in stream.events]
    texts = [e.text for e in stream.events]
    base = emb.of(texts)
    rows = list(base)
    systems: dict[str, dict[str, Any]] = {}
    b, d = cfg.batch, cfg.delay

    def add(name: str, preds: list[str | None], secs: float, **extra: Any) -> None:
        entry = score(y, preds, window=cfg.window, change_points=stream.change_points)
        entry.update({"seconds": secs, "events_per_s": len(y) / secs if secs > 0 else None})
        entry.update(extra)
        systems[name] = entry
        say(f"  {stream.name:<8} {name:<24} accuracy {entry['accuracy']:.3f}  ({secs:.1f} s)")

    for scope in scopes:
        say(f"  {stream.name:<8} streamtune_{scope}: replaying {len(stream)} events ...")
        torch.manual_seed(cfg.seed)
        res = simulate(
            stream, base, scope=scope, batch=b, delay=d, rate=cfg.rate, overrides=cfg.worker
        )
        systems[f"streamtune_{scope}"] = _sim_entry(res, stream, cfg)
        acc = systems[f"streamtune_{scope}"]["accuracy"]
        say(f"  {stream.name:<8} streamtune_{scope:<13} accuracy {acc:.3f}  ({res.seconds:.1f} s)")

    n_labels = labels_delivered(len(y), b, d)
    for name in baselines:
        if name == "static_v0":
            v0 = zero_shot(stream)
            t0 = time.perf_counter()
            preds: list[str | None] = list(_predict(v0, base))
            secs = time.perf_counter() - t0
            add(name, preds, secs, compute_examples=0)
        elif name == "static_first_window":
            once = FitOnce[Any](fit_embeddings, n=cfg.window)
            preds, secs = _timed(once, rows, y, b, d)
            add(name, preds, secs, compute_examples=once.train_examples)
        elif name == "frozen_river":
            frozen = FrozenAfter(best_river(), n=cfg.window)
            preds, secs = _timed(frozen, texts, y, b, d)
            add(name, preds, secs, compute_examples=min(cfg.window, n_labels), pipeline=BEST_RIVER)
        elif name == "river":
            river = best_river()
            preds, secs = _timed(river, texts, y, b, d)
            add(name, preds, secs, compute_examples=n_labels, pipeline=BEST_RIVER)
        elif name in ("periodic_equal_compute", "periodic_fixed"):
            head = systems.get("streamtune_head")
            if name == "periodic_equal_compute":
                if head is None:
                    continue
                every = match_every(n_labels, int(head["compute_examples"]))
            else:
                every = cfg.periodic_every
            periodic = PeriodicRetrain[Any](fit_embeddings, every=every)
            preds, secs = _timed(periodic, rows, y, b, d)
            add(
                name,
                preds,
                secs,
                every=every,
                fits=periodic.fits,
                compute_examples=periodic.train_examples,
                compute_examples_expected=periodic_compute(n_labels, every),
                compute_vs_streamtune_head=(
                    periodic.train_examples / head["compute_examples"]
                    if head and head["compute_examples"]
                    else None
                ),
            )
        else:
            raise ValueError(f"unknown system {name!r}")
    return {
        "n_events": len(stream),
        "labels": list(stream.labels),
        "change_points": list(stream.change_points),
        "drift_width": stream.drift_width,
        "params": {k: v for k, v in stream.params.items()},
        "labels_delivered": n_labels,
        "systems": systems,
    }


def _acc(entry: dict[str, Any] | None) -> float:
    return float(entry["accuracy"]) if entry else math.nan


def claims(result: dict[str, Any]) -> dict[str, Any]:
    """Issue 5's claims, checked on the numbers: accuracy vs static/River, recovery vs retrain."""
    out: dict[str, Any] = {}
    for name, block in result["streams"].items():
        systems = block["main"]["systems"]
        st = systems.get("streamtune_head")
        statics = {k: _acc(v) for k, v in systems.items() if k.startswith(("static", "frozen"))}
        river = _acc(systems.get("river"))
        best_static = max(statics.values(), default=math.nan)
        check: dict[str, Any] = {
            "streamtune_head": _acc(st),
            "best_static": best_static,
            "statics": statics,
            "river": river,
            "beats_static": _acc(st) > best_static,
            "beats_river": _acc(st) > river,
        }
        for c in block["main"]["change_points"]:
            rec_st = (st or {}).get("recovery", {}).get(str(c))
            per = systems.get("periodic_equal_compute")
            rec_pr = (per or {}).get("recovery", {}).get(str(c))
            check[f"recovery_at_{c}"] = {
                "streamtune_head": rec_st,
                "periodic_equal_compute": rec_pr,
                "periodic_every": (per or {}).get("every"),
                "faster": rec_st is not None and (rec_pr is None or rec_st < rec_pr),
            }
        short = block.get("short")
        if short:
            check["short"] = {k: _acc(v) for k, v in short["systems"].items()}
        out[name] = check
    return out


def machine() -> dict[str, Any]:
    """What the numbers were measured on (the load average says how shared it was)."""
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_avg_1_5_15": list(os.getloadavg()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def _real_block(
    cfg: BenchConfig, stream: TextStream, emb: Embeddings, settings: Settings, say: Say
) -> dict[str, Any]:
    from streams.bench._real import run_real

    say(f"real system: {cfg.real_events} events of {stream.name} at {cfg.rate:g}/s ...")
    real = run_real(
        settings,
        stream,
        events=cfg.real_events,
        rate=cfg.rate,
        delay=cfg.delay,
        burst=max(10, cfg.real_events // 2),
        overrides=cfg.worker,
        settle_s=cfg.real_settle_s,
    )
    prefix = TextStream(
        stream.name,
        stream.events[: real["events"]],
        stream.labels,
        (),
        0,
        stream.descriptions,
        stream.params,
    )
    base = emb.of([e.text for e in prefix.events])
    res = simulate(
        prefix,
        base,
        scope="head",
        batch=cfg.batch,
        delay=cfg.delay,
        rate=cfg.rate,
        overrides=cfg.worker,
    )
    y = [e.label for e in prefix.events]
    real_preds = [real["stream_predictions"][e.event_id] for e in prefix.events]
    real["accuracy"] = score(y, real_preds, window=cfg.window)["accuracy"]
    real["inprocess_head_accuracy_same_prefix"] = score(y, res.predictions, window=cfg.window)[
        "accuracy"
    ]
    real["inprocess_versions_served"] = sorted(set(res.versions))
    real.pop("stream_predictions")
    real.pop("stream_versions")
    say(
        f"real system: accuracy {real['accuracy']:.3f} (in-process head on the same prefix "
        f"{real['inprocess_head_accuracy_same_prefix']:.3f}); latency p99 "
        f"{real['latency_ms']['p99']} ms; freshness p50 "
        f"{real['freshness_s']['label_to_served']['p50']} s"
    )
    return real


def run_bench(
    config: BenchConfig | None = None,
    settings: Settings | None = None,
    say: Say | None = None,
) -> dict[str, Any]:
    """Run the bench; returns the results (also written to ``config.out_dir`` if set).

    Parameters
    ----------
    config
        What to run (:class:`BenchConfig` defaults: the full bench, ~10-20 min on 2 cores).
    settings
        Base settings of the real run (Redis URL, security...); defaults otherwise.
    say
        Progress lines go here (nothing by default).
    """
    cfg = config or BenchConfig()
    emit: Say = say or (lambda _line: None)
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "meta": {
            "machine": machine(),
            "started_ms": int(time.time() * 1000),
            "config": {
                **{k: v for k, v in vars(cfg).items() if k != "worker"},
                "batch": cfg.batch,
                "worker_overrides": cfg.worker,
            },
        },
        "streams": {},
    }
    emb: Embeddings | None = None
    deep = [s for s in cfg.scopes if s != "head"]
    main_scopes = [s for s in cfg.scopes if s == "head" or cfg.events_for(s) == cfg.events]
    for name in cfg.streams:
        stream = build_stream(name, cfg.events, cfg.seed)
        if emb is None:
            emb = Embeddings(stream.labels, dict(stream.descriptions))
        emit(f"{name}: {len(stream)} events, change points {list(stream.change_points)}")
        block: dict[str, Any] = {
            "main": run_stream(stream, emb, cfg, main_scopes, cfg.baselines, emit)
        }
        short_scopes = [s for s in deep if s not in main_scopes]
        if short_scopes:
            n_short = cfg.events_for(short_scopes[0])
            short = build_stream(name, n_short, cfg.seed)
            emit(f"{name} (short, {n_short} events) for {', '.join(short_scopes)}")
            block["short"] = run_stream(
                short,
                emb,
                cfg,
                ["head", *short_scopes],
                [b for b in cfg.baselines if b in ("static_v0", "river")],
                emit,
            )
        result["streams"][name] = block
    if cfg.real_events > 0:
        stream = build_stream(cfg.streams[0] if cfg.streams else "natural", cfg.events, cfg.seed)
        if emb is None:
            emb = Embeddings(stream.labels, dict(stream.descriptions))
        result["real_run"] = _real_block(cfg, stream, emb, settings or Settings(), emit)
    result["claims"] = claims(result)
    result["meta"]["seconds"] = time.perf_counter() - t0
    result["meta"]["machine"]["load_avg_end"] = list(os.getloadavg())
    if cfg.out_dir:
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        from streams.bench._plots import write_plots

        result["meta"]["plots"] = [p.name for p in write_plots(result, out)]
        (out / "bench.json").write_text(json.dumps(clean(result), indent=1) + "\n")
    cleaned: dict[str, Any] = clean(result)
    return cleaned
