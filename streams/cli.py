"""The ``streamtune`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas import Settings, SettingsError
from streams._logging import setup_logging
from streams._security import RedisCheckError, SecurityConfigError

log = logging.getLogger("streamtune")

#: Every subcommand, so deployment files can be checked against the real CLI.
SUBCOMMANDS = ("up", "demo", "serve", "worker", "produce", "tail", "models", "bench")

#: Files above this many lines get a progress bar.
PROGRESS_MIN_LINES = 1000


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def _handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return stop


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    """Broker, Redis (if none answers) and serving processes, until Ctrl-C/SIGTERM."""
    from streams._stack import Stack

    stop = _stop_event()
    stack = Stack(settings, external_broker=args.external)
    try:
        eff = stack.start()
        for i in range(args.serving):
            stack.add(f"serve-{i}", ["serve"])
        out = Console()
        out.print(f"[bold green]streamtune is up[/] (logs in {stack.log_dir})")
        for child in stack.children:
            out.print(f"{child.name} pid {child.proc.pid if child.proc else '-'}")
        out.print(f"export STREAMTUNE_BOOTSTRAP_SERVERS={eff.bootstrap_servers}", soft_wrap=True)
        if stack.redis is not None:
            out.print(f"export STREAMTUNE_REDIS_URL={stack.redis.url}", soft_wrap=True)
        out.print("Ctrl-C stops everything.")
        sys.stdout.flush()
        while not stop.wait(0.5):
            stack.supervise_once()
    finally:
        stack.stop()
        log.info("stopped")
    return 0


def cmd_serve(settings: Settings, _args: argparse.Namespace) -> int:
    """One serving consumer in group ``serving``."""
    from serving import run_serving

    run_serving(settings)
    return 0


def cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    """The Faust worker: feedback join, micro-batching, incremental learning."""
    from streams.worker import run_worker

    run_worker(settings)
    return 0


def _lines(path: str) -> tuple[Iterable[str], int | None]:
    if path == "-":
        return sys.stdin, None
    text = Path(path).read_text(encoding="utf-8").splitlines()
    return text, len(text)


def cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    """Validate a JSONL file of events and send the valid ones with ``acks=all``."""
    from streams._clients import make_producer
    from streams._producer import EventProducer

    lines, total = _lines(args.file)
    err = Console(stderr=True)
    producer = EventProducer(settings, make_producer(settings))
    show = total is None or total >= PROGRESS_MIN_LINES
    progress = Progress(
        TextColumn(f"producing {args.kind}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not show,
    )
    with progress:
        task = progress.add_task("produce", total=total)
        on_line: Callable[[int], None] = lambda n: progress.update(task, completed=n)  # noqa: E731
        report = producer.produce_lines(args.kind, lines, on_line=on_line)
    producer.producer.close()
    for number, reason in report.rejected[: args.show_rejects]:
        err.print(f"[red]rejected[/] line {number}: {reason}", soft_wrap=True)
    hidden = len(report.rejected) - args.show_rejects
    if hidden > 0:
        err.print(f"... and {hidden} more rejected lines")
    err.print(
        f"sent {report.sent}, acknowledged {report.acked}, failed {report.failed}, "
        f"rejected {len(report.rejected)}"
    )
    return 0 if report.ok else 1


def cmd_tail(settings: Settings, args: argparse.Namespace) -> int:
    """Print a topic's events as JSON lines."""
    from streams._tail import tail

    topic = settings.topics.by_kind(args.topic)

    def emit(line: str) -> None:
        print(line, flush=True)

    tail(
        settings,
        topic,
        emit,
        from_beginning=not args.latest,
        max_events=args.max,
        idle_timeout_s=args.timeout,
    )
    return 0


def cmd_models(settings: Settings, args: argparse.Namespace) -> int:
    """List registered versions and history, or roll back to an earlier version."""
    from rich.table import Table

    from serving import Registry, RegistryError
    from streams._clients import make_producer, make_redis

    client = make_redis(settings)
    registry = Registry(client, settings.redis_prefix)
    model = settings.model_name
    try:
        if args.action == "rollback":
            try:
                update = registry.rollback(model, args.version)
            except RegistryError as exc:
                print(f"streamtune: {exc}", file=sys.stderr)
                return 2
            producer = make_producer(settings)
            producer.send(
                settings.topics.model_updates, key=model.encode(), value=update.to_bytes()
            ).get(timeout=30)
            producer.close()
            print(f"rolled back {model} to v{update.version} (was v{update.parent_version})")
            return 0
        if args.json:
            data = {
                "current": registry.current_version(model),
                "versions": [v.model_dump() for v in registry.versions(model)],
                "history": [h.model_dump() for h in registry.history(model)],
            }
            print(json.dumps(data, indent=2))
            return 0
        current = registry.current_version(model)
        table = Table("", "version", "status", "reason", "parent", "examples", "metrics", "uri")
        for v in registry.versions(model):
            metrics = ", ".join(f"{k}={val:.3g}" for k, val in sorted(v.metrics.items())[:4])
            table.add_row(
                "*" if v.version == current else "",
                str(v.version),
                v.status,
                v.reason,
                "-" if v.parent_version is None else str(v.parent_version),
                str(v.examples_seen),
                metrics,
                v.uri,
            )
        Console().print(table)
        history = Table("time (ms)", "event", "version", "previous", "reason")
        for h in registry.history(model):
            history.add_row(str(h.at_ms), h.event, str(h.version), str(h.previous), h.reason)
        Console().print(history)
        return 0
    finally:
        client.close()


def cmd_bench(_settings: Settings, args: argparse.Namespace) -> int:
    """Streamtune and its baselines on the same drifting streams (see benchmarks/README.md)."""
    from streams.bench import main as bench_main

    return bench_main(args.bench_args)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Start the embedded stack, stream a sample file, print predictions."""
    from streams._demo import DemoOptions, run_demo

    options = DemoOptions(
        events=args.events,
        change_at=args.change_at if args.change_at is not None else int(args.events * 0.6),
        rate=args.rate,
        feedback_fraction=args.feedback_fraction,
        feedback_delay_s=args.feedback_delay,
        report_dir=args.report_dir,
    )
    return run_demo(settings, options)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one subparser per entry of :data:`SUBCOMMANDS`)."""
    parser = argparse.ArgumentParser(
        prog="streamtune",
        description="Streaming online learning for a deployed text classifier. "
        "Settings come from STREAMTUNE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run broker, Redis and serving until Ctrl-C")
    up.add_argument("--external", action="store_true", help="use STREAMTUNE_BOOTSTRAP_SERVERS")
    up.add_argument("--serving", type=int, default=1, help="serving processes (default 1)")
    up.set_defaults(func=cmd_up)

    demo = sub.add_parser("demo", help="embedded stack, a drifting stream, a report with plots")
    demo.add_argument("--events", type=int, default=2000)
    demo.add_argument("--change-at", type=int, default=None, help="default: 60%% of --events")
    demo.add_argument("--rate", type=float, default=30.0, help="texts per second")
    demo.add_argument("--feedback-fraction", type=float, default=1.0)
    demo.add_argument("--feedback-delay", type=float, default=1.0, help="seconds")
    demo.add_argument("--report-dir", default="reports/demo")
    demo.set_defaults(func=cmd_demo)

    sub.add_parser("serve", help="one serving consumer").set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="the Faust learning worker").set_defaults(func=cmd_worker)

    produce = sub.add_parser("produce", help="validate and send events from JSONL")
    produce.add_argument("kind", choices=["texts", "feedback"])
    produce.add_argument("file", nargs="?", default="-", help="JSONL file, or - for stdin")
    produce.add_argument("--show-rejects", type=int, default=20)
    produce.set_defaults(func=cmd_produce)

    tail = sub.add_parser("tail", help="print a topic's events as JSON lines")
    tail.add_argument("topic", help="texts, feedback, predictions, drift-alerts, ... or a name")
    tail.add_argument("--latest", action="store_true", help="only new events")
    tail.add_argument("--max", type=int, default=None, help="stop after N events")
    tail.add_argument("--timeout", type=float, default=None, help="stop after S idle seconds")
    tail.set_defaults(func=cmd_tail)

    bench = sub.add_parser(
        "bench", help="compare streamtune with baselines (streamtune bench -- --help)"
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments of the bench")
    bench.set_defaults(func=cmd_bench)

    models = sub.add_parser("models", help="list model versions, or roll back")
    models_sub = models.add_subparsers(dest="action", required=True)
    listing = models_sub.add_parser("list", help="versions, the current pointer, and history")
    listing.add_argument("--json", action="store_true")
    rollback = models_sub.add_parser("rollback", help="serve an earlier published version")
    rollback.add_argument("version", type=int)
    models.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamtune`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        # The bench has its own parser: hand it everything after the word.
        from streams.bench import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"streamtune: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        code: int = args.func(settings, args)
    except KeyboardInterrupt:
        return 130
    except (KeyError, FileNotFoundError, RedisCheckError, SecurityConfigError) as exc:
        print(f"streamtune: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
