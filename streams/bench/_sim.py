"""streamtune replayed in-process: the worker's and serving's logic, without Kafka or Redis.

This is not a simulation of the algorithm but the system's own pieces driven by a loop:
the worker's :class:`~streams.worker.LearnerTrainer` (its ``LearnerConfig``, ``SCOPE_LR``,
replay, ``on_drift`` replay reset and re-warm, gate scoring), the worker's
:class:`~streams._lifecycle.Lifecycle` (the drift monitor's detectors, holdout,
publication policy, validation gate with the post-drift holdout limit, rollback), and
checkpoints written and verified on disk. What is replaced:

- Kafka: events arrive in ticks of ``batch`` (what ``take(max_batch, within=max_wait)``
  gathers at the stream's rate); feedback for an event arrives ``delay`` events later;
- Redis: the registry is in memory (:class:`MemoryRegistry`); prediction records are
  built directly;
- wall time: a virtual clock at ``rate`` events/s drives the time-based schedules;
- serving: it predicts with the *published* version (the lifecycle's champion), and a
  publication is served from the next tick on (the real swap takes about a second).

The feedback pipeline's order is kept: hold out, observe errors, train, observe losses,
checkpoint when due, then gate and publish when the policy says a candidate is due.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from learners import Example, TextClassifier, tokenize
from learners.drift import DriftConfig, DriftEvent, DriftMonitor, Signal
from learners.gate import GateDecision, Holdout, ValidationGate
from schemas import FeedbackEvent, ModelUpdate, Settings, now_ms
from serving._records import PredictionRecord
from serving._registry import HistoryEntry, Registry, RegistryError, VersionInfo
from streams._lifecycle import Lifecycle
from streams._training import CheckpointSchedule
from streams.bench._systems import ticks
from streams.datasets import TextStream
from streams.worker import LearnerTrainer


class MemoryRegistry(Registry):
    """The registry's operations on dicts instead of Redis (same semantics)."""

    def __init__(self) -> None:
        self.prefix = ""
        self._versions: dict[str, dict[int, VersionInfo]] = {}
        self._current: dict[str, int] = {}
        self._history: dict[str, list[HistoryEntry]] = {}

    def current_version(self, model: str) -> int | None:
        """The version serving should use."""
        return self._current.get(model)

    def get(self, model: str, version: int) -> VersionInfo | None:
        """One version's record."""
        return self._versions.get(model, {}).get(version)

    def versions(self, model: str) -> list[VersionInfo]:
        """Every recorded version, oldest first."""
        return sorted(self._versions.get(model, {}).values(), key=lambda i: i.version)

    def history(self, model: str) -> list[HistoryEntry]:
        """What served when, oldest first."""
        return list(self._history.get(model, []))

    def _log(self, model: str, event: Any, version: int, reason: str, metrics: Any) -> None:
        entry = HistoryEntry(
            at_ms=now_ms(),
            event=event,
            version=version,
            previous=self.current_version(model),
            reason=reason,
            metrics=metrics,
        )
        self._history.setdefault(model, []).append(entry)

    def record_rejected(self, info: VersionInfo) -> None:
        """Record a refused candidate."""
        self._log(info.model, "rejected", info.version, info.detail or info.reason, info.metrics)
        self._versions.setdefault(info.model, {})[info.version] = info

    def publish(self, info: VersionInfo) -> ModelUpdate:
        """Make ``info`` current."""
        if info.status != "published":
            raise RegistryError("only a published version can become current")
        previous = self.current_version(info.model)
        self._log(info.model, "published", info.version, info.reason, info.metrics)
        self._versions.setdefault(info.model, {})[info.version] = info
        self._current[info.model] = info.version
        return _update(info, info.reason, previous)

    def rollback(self, model: str, version: int, reason: str = "manual rollback") -> ModelUpdate:
        """Point ``current`` back at an earlier published version."""
        info = self.get(model, version)
        if info is None or info.status != "published":
            raise RegistryError(f"version {version} of {model!r} was never published")
        previous = self.current_version(model)
        self._log(model, "rollback", version, reason, info.metrics)
        self._current[model] = version
        return _update(info, "rollback", previous)


def _update(info: VersionInfo, reason: Any, previous: int | None) -> ModelUpdate:
    return ModelUpdate(
        model=info.model,
        version=info.version,
        uri=info.uri,
        sha256=info.sha256,
        reason=reason,
        metrics=info.metrics,
        timestamp=now_ms(),
        parent_version=previous,
    )


class DirectOwner:
    """The lifecycle's model owner, calling the worker's trainer on this thread."""

    def __init__(self, trainer: LearnerTrainer) -> None:
        self.trainer = trainer
        self.drift_resets = 0

    async def evaluate(
        self,
        gate: ValidationGate,
        holdout: Holdout[Example],
        train_loss: float | None,
        limit: int | None,
    ) -> GateDecision:
        """See :meth:`LearnerTrainer.gate_decision`."""
        return self.trainer.gate_decision(gate, holdout, train_loss, limit)

    async def on_drift(self) -> None:
        """See :meth:`LearnerTrainer.on_drift`."""
        self.drift_resets += 1
        self.trainer.on_drift()

    async def promote(self) -> None:
        """See :meth:`LearnerTrainer.promote`."""
        self.trainer.promote()

    async def adopt(self, uri: str | None, *, learner_too: bool) -> None:
        """See :meth:`LearnerTrainer.adopt`."""
        self.trainer.adopt(uri, learner_too)


class RecordingMonitor(DriftMonitor):
    """The worker's drift monitor, keeping every event it reports."""

    def __init__(self, config: DriftConfig) -> None:
        super().__init__(config)
        self.events: list[DriftEvent] = []

    def update(self, signal: Signal, value: float) -> list[DriftEvent]:
        """See :meth:`DriftMonitor.update`."""
        events = super().update(signal, value)
        self.events.extend(events)
        return events


@dataclass
class SimResult:
    """What the in-process replay of one scope observed."""

    scope: str
    predictions: list[str | None]
    versions: list[int]
    #: Per detector, ``(level, event index)`` of each detection; the index is the event whose
    #: label (or training loss) triggered it.
    detections: dict[str, list[tuple[str, int]]]
    publications: list[dict[str, Any]] = field(default_factory=list)
    trained: int = 0
    replayed: int = 0
    held_out: int = 0
    steps: int = 0
    drift_resets: int = 0
    seconds: float = 0.0

    @property
    def compute(self) -> int:
        """Examples passed to training steps, replay included."""
        return self.trained + self.replayed


def served_embeddings(
    model: TextClassifier, tokenizer: Any, texts: Sequence[str], max_len: int, chunk: int = 64
) -> np.ndarray:
    """Normalised pooled embeddings of ``model`` (what serving computes and stores)."""
    out = []
    device = next(model.parameters()).device
    with torch.inference_mode():
        for i in range(0, len(texts), chunk):
            batch = tokenize(tokenizer, list(texts[i : i + chunk]), max_len, device)
            out.append(model.embed(batch).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.dim), np.float32)


def _predict(model: TextClassifier, emb: np.ndarray) -> list[str]:
    with torch.inference_mode():
        logits = model.head(torch.from_numpy(np.ascontiguousarray(emb, np.float32)))
    return [model.labels[int(k)] for k in logits.argmax(-1).tolist()]


def sim_settings(
    stream: TextStream, scope: str, artifact_dir: str, overrides: dict[str, Any]
) -> Settings:
    """The worker's settings for a stream: its labels and descriptions, the bench overrides."""
    return Settings(
        labels=tuple(stream.labels),
        label_descriptions=dict(stream.descriptions),
        artifact_dir=artifact_dir,
        worker_scope=scope,  # type: ignore[arg-type]
        device="cpu",
        **overrides,
    )


def simulate(
    stream: TextStream,
    base_embeddings: np.ndarray,
    *,
    scope: str,
    batch: int,
    delay: int,
    rate: float,
    overrides: dict[str, Any],
) -> SimResult:
    """Replay ``stream`` through streamtune's worker and serving logic at ``scope``.

    ``base_embeddings`` are version 0's embeddings of the stream's texts: for ``head`` the
    encoder never changes, so they are what serving computes for every version.
    """
    quiet = logging.getLogger("streams._lifecycle")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)  # its alerts and decisions are in the result
    try:
        with tempfile.TemporaryDirectory(prefix="streamtune-bench-") as tmp:
            settings = sim_settings(stream, scope, tmp, overrides)
            return asyncio.run(_simulate(stream, base_embeddings, settings, batch, delay, rate))
    finally:
        quiet.setLevel(level)


async def _simulate(
    stream: TextStream,
    base: np.ndarray,
    s: Settings,
    batch: int,
    delay: int,
    rate: float,
) -> SimResult:
    t0 = time.perf_counter()
    now = [0.0]

    def clock() -> float:
        return now[0]

    trainer = LearnerTrainer(s)
    point = trainer.resume()
    owner = DirectOwner(trainer)
    lc = Lifecycle(s, MemoryRegistry(), owner, clock=clock)
    monitor = RecordingMonitor(lc.monitor.config)
    lc.monitor = monitor
    await lc.start()
    schedule = CheckpointSchedule(s.checkpoint_every_examples, s.checkpoint_every_s, clock)
    events = stream.events
    n = len(events)
    res = SimResult(s.worker_scope, [None] * n, [0] * n, {})
    emb = np.zeros_like(base)
    order: dict[str, list[int]] = {"error": [], "loss": []}
    index_of = {e.event_id: i for i, e in enumerate(events)}
    version, unsaved = point.version, 0

    for new, arrived in ticks(n, batch, delay):
        now[0] = new.start / rate
        champion = trainer.champion
        if champion is None:
            raise RuntimeError("no champion after start()")
        if s.worker_scope == "head":
            emb[new.start : new.stop] = base[new.start : new.stop]
        else:
            texts = [events[i].text for i in new]
            emb[new.start : new.stop] = served_embeddings(
                champion, trainer.tokenizer, texts, s.max_seq_len
            )
        labels = _predict(champion, emb[new.start : new.stop])
        for i, label in zip(new, labels, strict=True):
            res.predictions[i] = label
            res.versions[i] = lc.serving_version
        if not arrived:
            continue
        # The feedback pipeline's order (streams._pipeline.FeedbackPipeline._train).
        observed, train = [], []
        for j in arrived:
            e = events[j]
            record = PredictionRecord(
                event_id=e.event_id,
                model=s.model_name,
                model_version=res.versions[j],
                text=e.text,
                label=res.predictions[j] or "",
                scores={},
                embedding=emb[j].copy(),
                timestamp=0,
            )
            example = Example(
                e.event_id, e.text, e.label, embedding=emb[j].copy(), model_version=res.versions[j]
            )
            observed.append((FeedbackEvent(event_id=e.event_id, label=e.label), record))
            order["error"].append(j)
            if lc.hold_out(example):
                res.held_out += 1
                continue
            train.append(example)
        await lc.observe_feedback(observed)
        if train:
            step = trainer.learn(train)
            order["loss"].extend(index_of[i] for i in step.event_ids)
            res.trained += step.n_trained
            res.replayed += step.n_replayed
            res.steps += step.n_steps
            await lc.observe_step(step)
            schedule.add(step.n_trained)
        unsaved += len(arrived)
        # streams._pipeline.FeedbackPipeline._maybe_checkpoint
        reason = lc.due()
        written = None
        if (schedule.due() or reason is not None) and unsaved:
            parent = version if version >= 0 else None
            version = trainer.next_version()
            seen = trainer.learner.examples_seen if trainer.learner else 0
            trainer.save(version, parent, seen, {}, {"examples_new": float(unsaved)})
            written = lc.candidate(version, parent, seen, {"examples_new": float(unsaved)})
            unsaved = 0
            schedule.reset()
        if reason is None:
            continue
        cand = written or lc.last_candidate
        if cand is None or cand.version <= lc.serving_version:
            lc.policy.resolve(False)
            continue
        decision = await lc.consider(cand, reason)
        res.publications.append(
            {
                "index": new.stop,
                "version": cand.version,
                "reason": reason,
                "accepted": decision.accepted,
                "detail": decision.reason,
            }
        )

    for event in monitor.events:
        seq = order.get(event.signal, [])
        where = seq[event.index] if event.index < len(seq) else -1
        res.detections.setdefault(event.detector, []).append((event.level, where))
    res.drift_resets = owner.drift_resets
    res.seconds = time.perf_counter() - t0
    return res
