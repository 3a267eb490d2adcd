"""S9: corrupted checkpoints published to serving are refused; the old version serves on."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch

from learners import build_initial, default_model_path, save_checkpoint
from learners._checkpoint import MANIFEST_FILE, MODEL_FILE, sha256_bytes
from schemas import Settings
from serving import Registry
from streams import make_producer, make_redis
from tests.faults.ledger import Ledger, Report, Watch, text_items
from tests.integration.helpers import publish_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.faults]


class _Trap:
    """Unpickling this creates a marker file: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _set_file(path: Path, name: str, data: bytes) -> None:
    """Replace a checkpoint file and re-write its sha256 so only deeper checks catch it."""
    (path / name).write_bytes(data)
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest["files"][name] = sha256_bytes(data)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def _bitflip(path: Path, _: Path) -> None:
    blob = bytearray((path / MODEL_FILE).read_bytes())
    blob[len(blob) // 2] ^= 0x10
    (path / MODEL_FILE).write_bytes(bytes(blob))


def _truncate(path: Path, _: Path) -> None:
    blob = (path / MODEL_FILE).read_bytes()
    (path / MODEL_FILE).write_bytes(blob[: len(blob) // 2])


def _nan(path: Path, _: Path) -> None:
    tensors = safetensors.torch.load((path / MODEL_FILE).read_bytes())
    tensors["head.linear.weight"][0, 0] = float("nan")
    _set_file(path, MODEL_FILE, safetensors.torch.save(tensors))


def _pickle(path: Path, marker: Path) -> None:
    _set_file(path, MODEL_FILE, pickle.dumps({"head.linear.weight": _Trap(marker)}))


def _label_count(path: Path, _: Path) -> None:
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest["labels"] = manifest["labels"][:-1]
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


CORRUPTIONS: list[tuple[str, Callable[[Path, Path], None]]] = [
    ("bit-flipped", _bitflip),
    ("truncated", _truncate),
    ("nan weights", _nan),
    ("pickle as safetensors", _pickle),
    ("wrong label count", _label_count),
]


def test_corrupt_checkpoints_refused_old_version_keeps_serving(
    settings: Settings, start_proc: Any, tmp_path: Path, fault_results: Callable[[Report], None]
) -> None:
    proc = start_proc(settings, "serve")
    model, _ = build_initial(default_model_path(), settings.labels)
    with torch.no_grad():
        w = model.head.linear.weight
        w.copy_(torch.roll(w, shifts=1, dims=0))
    paths = {}
    for version in range(1, len(CORRUPTIONS) + 2):
        save_checkpoint(
            settings.artifact_dir, model, version=version, parent=version - 1, examples_seen=version
        )
        paths[version] = Path(settings.artifact_dir) / "default" / f"v{version}"
    registry = Registry(make_redis(settings), settings.redis_prefix)
    ledger = Ledger("S9 corrupt checkpoints")
    watch = Watch(settings, ledger)
    producer = make_producer(settings)
    batch = iter(range(10_000))

    def tick() -> None:
        watch.send(producer, text_items("ck", 4, start=4 * next(batch)))

    publish_checkpoint(settings, registry, 1, paths[1])
    assert watch.until(lambda led: any(p.version == 1 for p in led.predictions), 120, tick)
    marker = tmp_path / "unpickled"
    for i, (name, corrupt) in enumerate(CORRUPTIONS):
        version = i + 2
        corrupt(paths[version], marker)
        publish_checkpoint(settings, registry, version, paths[version])
        ledger.refused(version)
        want = f"checkpoint_refused: v{version}"

        def refused(led: Ledger, want: str = want) -> bool:
            return any(d.reason.startswith(want) for d in led.dead)

        assert watch.until(refused, 60, tick), f"{name} not refused"
    # Texts after the last publication are still answered, and only by v1.
    after = len(ledger.acks)
    tick()
    assert watch.all_predicted(60)
    watch.close()
    producer.close()
    latest = [
        p for p in ledger.predictions if p.event_id in {a.event_id for a in ledger.acks[after:]}
    ]
    assert latest and {p.version for p in latest} == {1}
    first_v1 = min(p.at for p in ledger.predictions if p.version == 1)
    assert all(p.version == 1 for p in ledger.predictions if p.at > first_v1 + 1.0)
    assert not marker.exists(), "the disguised pickle was unpickled"
    assert proc.popen.poll() is None
    reasons = [d.reason for d in ledger.dead]
    assert len(reasons) == len(CORRUPTIONS), reasons
    report = ledger.reconcile()
    report.extra["refused"] = len(reasons)
    fault_results(report)
