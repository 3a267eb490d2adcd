"""Helpers for the worker and learner fault scenarios (S2, S3): seeding, feeding, auditing.

The worker joins feedback to prediction records, so the records are seeded in Redis as
serving would have written them; feedback then goes through :class:`Watch` so every
acknowledged event enters the ledger. What was trained is read back from the checkpoints'
``trained_ids.json`` (:func:`tests.faults.ledger.record_trained`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from kafka import KafkaProducer

from learners import (
    CheckpointError,
    checkpoint_digest,
    latest_valid_checkpoint,
    list_versions,
    read_trained_ids,
    verify_checkpoint,
)
from learners.gate import HoldoutPolicy
from schemas import FeedbackEvent, Settings
from serving import Registry
from serving._records import PredictionRecord, RecordStore
from streams import make_admin, make_redis
from tests.faults.ledger import Ledger, Watch

T = TypeVar("T")

#: Polling interval of the deadline loops below (never synchronisation by itself).
POLL_S = 0.2


def fast_worker_settings(settings: Settings, **extra: Any) -> Settings:
    """Small batches and frequent checkpoints; a gate that passes any candidate.

    For crash scenarios: every kill lands between checkpoints, and publications happen
    under the kills too (``extra`` sets their cadence).
    """
    fields: dict[str, Any] = {
        "checkpoint_every_examples": 8,
        "checkpoint_every_s": 1.0,
        "worker_max_batch": 8,
        "worker_max_wait_ms": 100,
        "gate_accuracy_margin": 1.0,
        "gate_log_loss_margin": 0.0,
    }
    fields.update(extra)
    return settings.with_overrides(**fields)


def seed_records(settings: Settings, ids: Sequence[str]) -> None:
    """Write the prediction records serving would have written for ``ids``."""
    rng = np.random.default_rng(0)
    store = RecordStore(make_redis(settings), settings.redis_prefix, settings.prediction_ttl_s)
    recs = []
    for i, event_id in enumerate(ids):
        emb = rng.standard_normal(384).astype(np.float32)
        label = settings.labels[i % len(settings.labels)]
        emb = emb / np.linalg.norm(emb)
        scores = {label: 1.0}
        recs.append(
            PredictionRecord(event_id, settings.model_name, 0, f"t{i}", label, scores, emb, 0)
        )
    store.put_many(recs)


def feedback_items(settings: Settings, ids: Sequence[str]) -> list[tuple[str, bytes, bytes]]:
    """Valid feedback for ``ids`` as ``(event_id, key, value)``; labels cycle the label set."""
    labels = settings.labels
    out = []
    for i, eid in enumerate(ids):
        event = FeedbackEvent(event_id=eid, label=labels[(i + 1) % len(labels)])
        out.append((eid, eid.encode(), event.to_bytes()))
    return out


def send_feedback(
    watch: Watch, producer: KafkaProducer, settings: Settings, ids: Sequence[str]
) -> None:
    """Send feedback for ``ids``; every one must be acknowledged by the broker."""
    items = feedback_items(settings, ids)
    sent = watch.send(producer, items, kind="feedback", topic=settings.topics.feedback)
    assert sent == len(items), f"broker acknowledged {sent} of {len(items)} feedback events"


def mark_held_out(ledger: Ledger, settings: Settings, ids: Sequence[str]) -> int:
    """Record the ids the worker's holdout policy keeps for the gate (they never train)."""
    policy = HoldoutPolicy(settings.holdout_modulus)
    held = [i for i in ids if policy.holds_out(i)]
    for event_id in held:
        ledger.held_out(event_id)
    return len(held)


def lineage_ids(settings: Settings) -> set[str]:
    """Event ids trained along the newest valid checkpoint's lineage."""
    found = latest_valid_checkpoint(settings.artifact_dir, settings.model_name)
    if found is None:
        return set()
    root = Path(settings.artifact_dir) / settings.model_name
    out: set[str] = set()
    version: int | None = found[1].version
    while version is not None and version > 0:
        path = root / f"v{version}"
        out.update(read_trained_ids(path))
        version = verify_checkpoint(path).parent
    return out


def newest_version(settings: Settings) -> int:
    """The newest valid checkpoint version (0: none yet)."""
    found = latest_valid_checkpoint(settings.artifact_dir, settings.model_name)
    return 0 if found is None else found[1].version


def wait_for(
    cond: Callable[[], T | None],
    timeout: float,
    what: str,
    procs: Sequence[Any] = (),
    tick: Callable[[], None] | None = None,
) -> T:
    """Poll ``cond`` until it returns something truthy; fail with the processes' logs."""
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        got = cond()
        if got:
            return got
        if time.monotonic() >= deadline:
            logs = "\n".join(p.log()[-3000:] for p in procs)
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{logs}")
        time.sleep(POLL_S)  # the polling interval of a deadline loop


def resumed_from(log: str) -> int | None:
    """The version the last worker start in ``log`` resumed from."""
    found = re.findall(r"worker resumes from version (\d+)", log)
    return int(found[-1]) if found else None


def died(proc: Any) -> bool:
    """Whether the process has exited."""
    return proc.popen.poll() is not None


def committed_offsets(settings: Settings) -> dict[str, int]:
    """The worker group's committed offsets on the feedback topic, ``topic:partition``."""
    admin = make_admin(settings)
    try:
        got = admin.list_group_offsets(settings.worker_group).get(settings.worker_group, {})
    finally:
        admin.close()
    return {
        f"{tp.topic}:{tp.partition}": meta.offset
        for tp, meta in got.items()
        if tp.topic == settings.topics.feedback and meta.offset >= 0
    }


@dataclass
class RegistryAudit:
    """Samples the registry's current pointer: it only increases and always verifies."""

    settings: Settings
    seen: list[int] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.registry = Registry(make_redis(self.settings), self.settings.redis_prefix)

    def sample(self) -> None:
        """Read the current pointer once and check it."""
        info = self.registry.current(self.settings.model_name)
        if info is None:
            return
        if self.seen and info.version < self.seen[-1]:
            self.violations.append(f"registry current went {self.seen[-1]} -> {info.version}")
        if not self.seen or self.seen[-1] != info.version:
            self.seen.append(info.version)
            self._verify(info.version, info.uri, info.sha256)

    def _verify(self, version: int, uri: str, sha256: str) -> None:
        if version == 0:
            return
        try:
            manifest = verify_checkpoint(uri)
        except CheckpointError as exc:
            self.violations.append(f"registry names v{version}, which fails to verify: {exc}")
            return
        if manifest.version != version or checkpoint_digest(uri) != sha256:
            self.violations.append(f"registry names v{version} with another digest or version")

    def check(self) -> None:
        """Assert no violation was seen."""
        self.sample()
        assert not self.violations, self.violations


def version_dirs(settings: Settings) -> list[int]:
    """Every ``v<N>`` directory present."""
    return [v for v, _ in list_versions(settings.artifact_dir, settings.model_name)]
