"""Hot-swap on the real broker: publish, refuse a corrupt checkpoint, roll back via the CLI."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from learners import build_initial, default_model_path, save_checkpoint
from schemas import DeadLetter, Prediction, Settings, TextEvent
from serving import Registry
from streams import make_producer, make_redis
from tests.integration.helpers import TopicReader, publish_checkpoint

pytestmark = pytest.mark.integration

_ids = itertools.count()


def _checkpoint(settings: Settings, version: int, shift: int) -> Path:
    model, _ = build_initial(default_model_path(), settings.labels)
    with torch.no_grad():
        # A visibly different version: the head's rows rotated by ``shift``.
        w = model.head.linear.weight
        w.copy_(torch.roll(w, shifts=shift, dims=0))
    save_checkpoint(
        settings.artifact_dir,
        model,
        version=version,
        parent=version - 1,
        examples_seen=10 * version,
    )
    return Path(settings.artifact_dir) / "default" / f"v{version}"


def _versions_until(
    settings: Settings, reader: TopicReader, want: int, timeout: float
) -> list[int]:
    """Produce texts until a new prediction comes from version ``want``; return new versions."""
    producer = make_producer(settings)
    start = len(reader.records)

    def tick() -> None:
        i = next(_ids)
        e = TextEvent(event_id=f"s{i}", text=f"the cup final ended level, report {i}")
        producer.send(settings.topics.texts, key=e.event_id.encode(), value=e.to_bytes())
        producer.flush()

    def done(recs: list[Any]) -> bool:
        new = recs[start:]
        return any(Prediction.model_validate_json(r.value).model_version == want for r in new)

    reader.until(done, timeout, tick)
    producer.close()
    return [Prediction.model_validate_json(r.value).model_version for r in reader.records[start:]]


def test_publish_refuse_corrupt_and_rollback(settings: Settings, start_proc: Any) -> None:
    start_proc(settings, "serve")
    registry = Registry(make_redis(settings), settings.redis_prefix)
    reader = TopicReader(settings, settings.topics.predictions)
    assert _versions_until(settings, reader, 0, 120)[-1] == 0

    publish_checkpoint(settings, registry, 1, _checkpoint(settings, 1, shift=1))
    seen = _versions_until(settings, reader, 1, 60)
    first_v1 = seen.index(1)
    assert set(seen[first_v1:]) == {1}, "once swapped, no prediction goes back to v0"

    # v2 is bit-flipped after its manifest was written: sha256 verification must refuse it.
    bad = _checkpoint(settings, 2, shift=2)
    blob = bytearray((bad / "model.safetensors").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(blob))
    publish_checkpoint(settings, registry, 2, bad)
    dead = TopicReader(settings, settings.topics.dead_letter)
    letters = dead.until(lambda recs: len(recs) >= 1, 60)
    dead.close()
    letter = DeadLetter.model_validate_json(letters[0].value)
    assert letter.reason.startswith("checkpoint_refused: v2")
    assert letter.source_topic == settings.topics.model_updates
    assert set(_versions_until(settings, reader, 1, 30)) == {1}, "v1 keeps serving"

    publish_checkpoint(settings, registry, 3, _checkpoint(settings, 3, shift=3))
    assert _versions_until(settings, reader, 3, 60)[-1] == 3

    rolled = subprocess.run(
        [sys.executable, "-m", "streams.cli", "models", "rollback", "1"],
        env={**settings.to_env(), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rolled.returncode == 0, rolled.stderr
    seen = _versions_until(settings, reader, 1, 60)
    assert seen[-1] == 1
    listing = subprocess.run(
        [sys.executable, "-m", "streams.cli", "models", "list", "--json"],
        env={**settings.to_env(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert '"current": 1' in listing.stdout
    assert [h.event for h in registry.history("default")] == [
        "published",
        "published",
        "published",
        "rollback",
    ]
    reader.close()
