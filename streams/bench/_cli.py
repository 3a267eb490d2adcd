"""``streamtune bench``: argument parsing and the console report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from learners import Scope
from schemas import Settings
from streams.bench._config import BENCH_STREAMS, BenchConfig
from streams.bench._run import run_bench


def build_parser(prog: str = "streamtune bench") -> argparse.ArgumentParser:
    """The ``bench`` options (defaults: the full bench, about 10-20 minutes on 2 cores)."""
    d = BenchConfig()
    p = argparse.ArgumentParser(
        prog=prog,
        description="Measure streamtune against static, River and periodic-retrain baselines "
        "on drifting streams; writes bench.json and PNGs.",
    )
    p.add_argument(
        "--streams",
        default=",".join(d.streams),
        help=f"comma-separated, from {', '.join(BENCH_STREAMS)}",
    )
    p.add_argument("--events", type=int, default=d.events, help="events per stream")
    p.add_argument("--scopes", default=",".join(d.scopes), help="streamtune scopes")
    p.add_argument(
        "--deep-events",
        type=int,
        default=d.deep_events,
        help="events for top_k/full (0: the whole stream)",
    )
    p.add_argument("--rate", type=float, default=d.rate, help="events per second")
    p.add_argument("--delay", type=int, default=d.delay, help="feedback delay in events")
    p.add_argument("--window", type=int, default=d.window)
    p.add_argument("--periodic-every", type=int, default=d.periodic_every)
    p.add_argument(
        "--real-events",
        type=int,
        default=d.real_events,
        help="events of the real-system run (0 skips it)",
    )
    p.add_argument(
        "--real-settle",
        type=float,
        default=None,
        help="seconds to wait for a publication after the real run's last label",
    )
    p.add_argument("--baselines", default=",".join(d.baselines), help="baselines to run")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", default=d.out_dir, help="output folder")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="worker setting for replay and real run, e.g. learner_lr=0.01",
    )
    return p


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """A :class:`BenchConfig` from parsed options."""
    worker = dict(BenchConfig().worker)
    for item in args.set:
        key, _, value = item.partition("=")
        worker[key.strip()] = value.strip()
    if worker:
        Settings(**worker)  # fail fast on a bad field name or value
    scopes = tuple(s for s in args.scopes.split(",") if s)
    return BenchConfig(
        streams=tuple(s for s in args.streams.split(",") if s),
        events=args.events,
        scopes=cast(tuple[Scope, ...], scopes),
        deep_events=args.deep_events or None,
        rate=args.rate,
        delay=args.delay,
        window=args.window,
        periodic_every=args.periodic_every,
        real_events=args.real_events,
        real_settle_s=args.real_settle,
        baselines=tuple(b for b in args.baselines.split(",") if b),
        threads=args.threads,
        seed=args.seed,
        out_dir=args.out,
        worker=worker,
    )


def print_summary(result: dict[str, Any], console: Console) -> None:
    """The headline table and the claims."""
    for name, block in result["streams"].items():
        for kind, part in block.items():
            table = Table(title=f"{name} ({kind}, {part['n_events']} events)")
            for col in ("system", "accuracy", "macro-F1", "recovery", "compute", "s"):
                table.add_column(col)
            for system, e in part["systems"].items():
                rec = ", ".join(f"{v}" for v in e["recovery"].values()) or "-"
                table.add_row(
                    system,
                    f"{e['accuracy']:.3f}",
                    f"{e['macro_f1']:.3f}" if e["macro_f1"] is not None else "-",
                    rec,
                    str(e.get("compute_examples", "-")),
                    f"{e['seconds']:.1f}",
                )
            console.print(table)
    console.print(result["claims"])


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``streamtune bench`` with ``argv`` (the arguments after ``bench``); returns 0."""
    args = build_parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    cfg = config_from_args(args)
    console = Console(stderr=True)
    result = run_bench(cfg, Settings.from_env(), say=console.print)
    print_summary(result, console)
    if cfg.out_dir:
        console.print(f"wrote {cfg.out_dir}/bench.json and {', '.join(result['meta']['plots'])}")
    return 0
