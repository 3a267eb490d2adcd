"""``streamtune demo`` (walking-skeleton form): the embedded stack, a sample stream, predictions.

It starts the broker, Redis if none answers and one serving process, produces the
bundled sample texts, and prints each prediction next to the label the sample expects.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from schemas import Prediction, Settings
from streams._clients import make_producer
from streams._producer import EventProducer
from streams._stack import Stack
from streams._tail import open_tail

DEMO_LABELS = "sport,politics,technology,business,entertainment"


def sample_path() -> Path:
    """The bundled sample texts."""
    return Path(str(resources.files("streams") / "data" / "sample_texts.jsonl"))


def run_demo(settings: Settings, events_path: str | None = None, timeout_s: float = 120) -> int:
    """Run the demo; returns 0 when every sample text was predicted."""
    console = Console()
    path = Path(events_path) if events_path else sample_path()
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = {}
    for line in lines:
        obj = json.loads(line)
        expected[obj["event_id"]] = (obj.get("metadata") or {}).get("expected", "")
    settings = settings.with_overrides(labels=DEMO_LABELS)
    with Stack(settings) as stack:
        eff = stack.settings
        console.print(f"broker {eff.bootstrap_servers}; logs in {stack.log_dir}")
        stack.add("serve-0", ["serve"], {"STREAMTUNE_LABELS": DEMO_LABELS})
        producer = EventProducer(eff, make_producer(eff))
        report = producer.produce_lines("texts", lines)
        producer.producer.close()
        console.print(f"produced {report.acked} texts ({len(report.rejected)} rejected)")
        got: dict[str, Prediction] = {}
        consumer = open_tail(eff, eff.topics.predictions, from_beginning=True)
        deadline = time.monotonic() + timeout_s
        with console.status("waiting for predictions (the model loads first)..."):
            while len(got) < report.acked and time.monotonic() < deadline:
                stack.supervise_once()
                for records in consumer.poll(timeout_ms=200).values():
                    for r in records:
                        p = Prediction.model_validate_json(r.value)
                        got[p.event_id] = p
        consumer.close()
    table = Table("event", "predicted", "p", "expected", "version", "latency ms")
    hits = 0
    for event_id, pred in sorted(got.items()):
        exp = expected.get(event_id, "")
        hits += pred.label == exp
        style = "green" if pred.label == exp else "red"
        table.add_row(
            event_id,
            f"[{style}]{pred.label}[/]",
            f"{pred.scores[pred.label]:.2f}",
            exp,
            str(pred.model_version),
            f"{pred.latency_ms:.0f}",
        )
    console.print(table)
    console.print(
        f"{len(got)}/{report.acked} predicted; zero-shot version 0 agrees with the expected "
        f"label on {hits}/{len(got)}"
    )
    return 0 if len(got) == report.acked else 1
