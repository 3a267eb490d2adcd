"""The model lifecycle in the worker: drift alerts, the validation gate, publication, rollback.

The pipeline feeds it what it sees (served predictions joined to their feedback, learner
steps, written checkpoints); it decides, with the pure parts from ``learners.drift`` and
``learners.gate``, and acts through the registry and two topics:

- each detection is a ``DriftAlert`` on ``drift-alerts`` (rate-limited per detector);
- a drift (after ``publish_post_drift_examples``), a schedule or a manual request makes
  a candidate; the gate compares it with the serving version (champion) on the holdout;
  accepted → registry + ``ModelUpdate``; rejected → recorded in the registry, never served;
- when the published version's live error is significantly worse than its predecessor's,
  it rolls back (registry + ``ModelUpdate`` with reason ``rollback`` + an alert).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from learners import Example, StepResult, checkpoint_digest, checkpoint_path
from learners.drift import (
    AlertRateLimiter,
    DriftEvent,
    DriftMonitor,
    Signal,
    config_for,
)
from learners.gate import (
    GateDecision,
    Holdout,
    HoldoutPolicy,
    PublicationPolicy,
    RollbackMonitor,
    ValidationGate,
)
from schemas import DriftAlert, FeedbackEvent, Settings, UpdateReason, now_ms
from serving._metrics import Metrics
from serving._records import PredictionRecord
from serving._registry import Registry, VersionInfo
from serving._swap import BUILTIN_V0
from streams._crashpoints import crash_point

log = logging.getLogger(__name__)

#: Produces raw bytes to a topic and returns once the broker has them.
Send = Callable[[str, bytes | None, bytes], Awaitable[None]]

#: The worker watches the signals that need labels; serving watches the label-free ones.
WORKER_SIGNALS: tuple[Signal, ...] = ("error", "loss")

#: Stands in for a checkpoint digest for version 0 (it has no file).
BUILTIN_V0_SHA = "0" * 64


class ModelOwner(Protocol):
    """What the lifecycle asks of the training thread (all awaitable)."""

    async def evaluate(
        self,
        gate: ValidationGate,
        holdout: Holdout[Example],
        train_loss: float | None,
        limit: int | None,
    ) -> GateDecision:
        """Score champion and challenger on the (newest ``limit``) holdout; the gate decides."""
        ...

    async def on_drift(self) -> None:
        """A confirmed drift: adapt the learner (forget stale replay, re-warm)."""
        ...

    async def promote(self) -> None:
        """The learner's current model becomes the champion (it was just published)."""
        ...

    async def adopt(self, uri: str | None, *, learner_too: bool) -> None:
        """Load a published version (``None``: version 0) as champion, and as learner."""
        ...


@dataclass(frozen=True)
class Candidate:
    """A written checkpoint offered for publication."""

    version: int
    parent: int | None
    uri: str
    sha256: str
    examples_seen: int
    metrics: dict[str, float]


def load_trusted(path: str | None) -> list[tuple[Example, str]]:
    """The trusted set: JSONL lines ``{"text": ..., "label": ...}`` (no embeddings)."""
    if not path:
        return []
    out = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        if line.strip():
            obj = json.loads(line)
            label = str(obj["label"])
            out.append((Example(f"trusted-{i}", str(obj["text"]), label), label))
    return out


class Lifecycle:
    """Drift monitoring, holdout, gate, publication and rollback for one model."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        owner: ModelOwner,
        *,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        s = settings
        self.settings = settings
        self.registry = registry
        self.owner = owner
        self.metrics = metrics
        self.send: Send | None = None
        self.monitor = DriftMonitor(config_for(s.drift_config, WORKER_SIGNALS))
        self.limiter = AlertRateLimiter(s.alert_max_per_window, s.alert_window_s, clock)
        self.holdout: Holdout[Example] = Holdout(
            HoldoutPolicy(s.holdout_modulus), s.holdout_size, load_trusted(s.trusted_set_path)
        )
        self.policy = PublicationPolicy(
            post_drift_examples=s.publish_post_drift_examples,
            every_examples=s.publish_every_examples,
            every_seconds=s.publish_every_s,
            clock=clock,
        )
        self.gate = ValidationGate(
            s.gate_accuracy_margin, s.gate_log_loss_margin or None, s.gate_min_examples
        )
        self.rollbacks = RollbackMonitor(
            s.rollback_window, s.rollback_min_samples, s.rollback_alpha
        )
        self.serving_version = 0
        self.labelled = 0
        self.last_loss: float | None = None
        self.last_candidate: Candidate | None = None
        #: Set by a rollback: ``(version, examples_seen)`` the learner now trains on from.
        self.rebase_to: tuple[int, int] | None = None
        self.alerts_sent = 0
        #: Held-out examples since the last confirmed drift (``None``: no drift in play).
        self.held_since_drift: int | None = None
        #: Training weight since the last candidate (after the per-user cap), in all and
        #: per ``user_id``: the heaviest user's share goes with the next gate decision.
        self.weight_total = 0.0
        self.user_weight: collections.defaultdict[str, float] = collections.defaultdict(float)

    @property
    def model(self) -> str:
        """The model name."""
        return self.settings.model_name

    async def start(self) -> None:
        """Adopt the registry's current version as the champion (registering version 0)."""
        current = await asyncio.to_thread(self.registry.current, self.model)
        if current is None:
            v0 = VersionInfo(
                model=self.model,
                version=0,
                uri=BUILTIN_V0,
                sha256=BUILTIN_V0_SHA,
                reason="initial",
                status="published",
                detail="zero-shot from the label descriptions",
            )
            await asyncio.to_thread(self.registry.publish, v0)
            current = v0
        self.serving_version = current.version
        versions = await asyncio.to_thread(self.registry.versions, self.model)
        for v in versions:
            if v.status == "published":
                self.gate.raise_floor(_decision_of(v))
        uri = None if current.uri == BUILTIN_V0 else current.uri
        await self.owner.adopt(uri, learner_too=False)
        if current is not None and current.parent_version is not None:
            self.rollbacks.begin(current.version, current.parent_version)
        log.info("lifecycle: v%d serves", self.serving_version)

    async def resumed(
        self, version: int, parent: int | None, examples_seen: int, metrics: Mapping[str, float]
    ) -> Candidate | None:
        """The worker resumed from checkpoint ``version``: offer it if the gate never saw it.

        A process that dies between writing a checkpoint and publishing it (or before a
        publication was due) restarts from that checkpoint. If it is newer than what serves
        and the registry has no record of it, it becomes the candidate in hand, and the
        examples it holds beyond the serving version count towards the publication
        schedule, so it is gated at the next opportunity instead of being silently
        dropped until more feedback arrives (or published as part of a newer version).
        """
        if version <= self.serving_version:
            return None
        if await asyncio.to_thread(self.registry.get, self.model, version) is not None:
            return None  # already gated (rejected), or published and since rolled back
        serving = await asyncio.to_thread(self.registry.get, self.model, self.serving_version)
        behind = examples_seen - (serving.examples_seen if serving is not None else 0)
        cand = await asyncio.to_thread(
            self.candidate, version, parent, examples_seen, dict(metrics)
        )
        self.policy.on_examples(max(0, behind))
        log.info("lifecycle: unpublished v%d (+%d examples) is the candidate", version, behind)
        return cand

    # -- observations --------------------------------------------------------------------------

    def hold_out(self, example: Example) -> bool:
        """Whether ``example`` goes to the holdout instead of training (deterministic)."""
        held = self.holdout.offer(example.event_id, example, example.label)
        if held and self.held_since_drift is not None:
            self.held_since_drift += 1
        return held

    async def observe_feedback(
        self, joined: Iterable[tuple[FeedbackEvent, PredictionRecord]]
    ) -> None:
        """Error of each served prediction: drift detectors and the rollback monitor."""
        events: list[DriftEvent] = []
        at: list[int] = []  # labelled examples seen when each event fired, not at batch end
        for fb, pred in joined:
            error = pred.label != fb.label
            self.labelled += 1
            fired = self.monitor.update_error(error)
            events += fired
            at += [self.labelled] * len(fired)
            self.rollbacks.update(pred.model_version, error)
        await self._on_events(events, at)
        await self._maybe_rollback()

    async def observe_step(self, result: StepResult) -> None:
        """Per-example training loss: the loss detector; trained examples: the policy."""
        events: list[DriftEvent] = []
        for loss in result.losses:
            try:
                events += self.monitor.update("loss", float(loss))
            except ValueError:  # a non-finite loss: the gate rejects such a candidate
                continue
        if result.mean_loss is not None:
            self.last_loss = result.mean_loss
        self.policy.on_examples(result.n_trained)
        self.weight_total += result.weight_total
        for user, weight in result.user_weights:
            self.user_weight[user] += weight
        await self._on_events(events)

    def request(self) -> None:
        """A manual trigger: make a candidate at the next opportunity."""
        self.policy.request()

    def due(self) -> str | None:
        """Why a candidate is due now (and it starts), or ``None``.

        Never before the holdout holds enough for the gate to judge: after a restart it
        starts empty, and a candidate then would only be rejected (and recorded so).
        """
        if len(self.holdout) < self.gate.min_examples:
            return None
        return self.policy.poll()

    # -- alerts --------------------------------------------------------------------------------

    async def _on_events(self, events: list[DriftEvent], at: list[int] | None = None) -> None:
        for i, event in enumerate(events):
            if event.level == "drift":
                self.policy.on_drift()
                if event.signal == "error":
                    self.held_since_drift = 0
                    # The concept changed: live error rates before and after it are not
                    # comparable, so no rollback is judged until the next publication.
                    self.rollbacks = self._new_rollback_monitor()
                    await self.owner.on_drift()
            if self.metrics is not None:
                self.metrics.drift_detections.labels(
                    detector=event.detector, signal=event.signal
                ).inc()
            action = "candidate_after_drift" if event.level == "drift" else "watch"
            await self._alert(
                event.to_alert(
                    model=self.model,
                    model_version=self.serving_version,
                    examples_seen=self.labelled if at is None else at[i],
                    action=action,
                    timestamp=now_ms(),
                ),
                f"{event.detector}:{event.level}",
            )

    async def _alert(self, alert: DriftAlert, key: str) -> None:
        admission = self.limiter.admit(key)
        if not admission.allowed:
            return
        if admission.suppressed:
            details = dict(alert.details or {})
            details["suppressed_since_last"] = admission.suppressed
            alert = alert.model_copy(update={"details": details})
        log.warning(
            "drift alert %s/%s value=%.3f action=%s",
            alert.detector,
            alert.signal,
            alert.value,
            alert.action,
        )
        if self.send is not None:
            await self.send(
                self.settings.topics.drift_alerts, self.model.encode(), alert.to_bytes()
            )
            self.alerts_sent += 1

    # -- publication ---------------------------------------------------------------------------

    def candidate(
        self, version: int, parent: int | None, examples_seen: int, metrics: dict[str, float]
    ) -> Candidate:
        """Describe a checkpoint just written."""
        path = checkpoint_path(self.settings.artifact_dir, self.model, version)
        cand = Candidate(
            version, parent, str(path), checkpoint_digest(path), examples_seen, metrics
        )
        self.last_candidate = cand
        return cand

    async def consider(self, cand: Candidate, reason: str) -> GateDecision:
        """Gate ``cand`` against the serving version; publish it or record the rejection."""
        # While a drift is in play, any candidate is judged on what was held out after it:
        # the old concept must not vote against a model that adapted to the new one.
        limit = self.held_since_drift
        decision = await self.owner.evaluate(self.gate, self.holdout, self.last_loss, limit)
        wire_reason: UpdateReason = "drift" if reason == "drift" else "schedule"
        info = VersionInfo(
            model=self.model,
            version=cand.version,
            uri=cand.uri,
            sha256=cand.sha256,
            reason=wire_reason,
            status="published" if decision.accepted else "rejected",
            parent_version=self.serving_version,
            # NaN (e.g. accuracy on an empty holdout) is not JSON: keep finite values only.
            metrics={
                k: v
                for k, v in {
                    **cand.metrics,
                    **decision.flat_metrics(),
                    **self._training_metrics(),
                }.items()
                if math.isfinite(v)
            },
            examples_seen=cand.examples_seen,
            detail=f"{reason}: {decision.reason}",
        )
        if self.metrics is not None:
            self.metrics.gate_decisions.labels(
                model=self.model, decision="accepted" if decision.accepted else "rejected"
            ).inc()
        if decision.accepted:
            update = await asyncio.to_thread(self.registry.publish, info)
            await self._send_update(update.to_bytes())
            crash_point("published")
            await self.owner.promote()
            previous = self.serving_version
            self.serving_version = cand.version
            self.rollbacks.begin(cand.version, previous)
            self.gate.raise_floor(decision)
            log.info("published v%d (%s): %s", cand.version, reason, decision.reason)
        else:
            await asyncio.to_thread(self.registry.record_rejected, info)
            log.warning("gate rejected v%d (%s): %s", cand.version, reason, decision.reason)
        self.policy.resolve(decision.accepted)
        self.weight_total, self.user_weight = 0.0, collections.defaultdict(float)
        if decision.accepted:
            self.held_since_drift = None
        return decision

    def _training_metrics(self) -> dict[str, float]:
        """What the steps since the last candidate did, for the registry's record.

        ``training.weight`` is the training weight of the new examples and
        ``training.top_user_share`` the heaviest ``user_id``'s share of it, so a user the
        per-user cap held back shows at the cap.
        """
        if not self.user_weight or self.weight_total <= 0:
            return {}
        heaviest = max(self.user_weight.values())
        return {
            "training.weight": self.weight_total,
            "training.top_user_share": heaviest / self.weight_total,
        }

    async def _send_update(self, value: bytes) -> None:
        if self.send is not None:
            await self.send(self.settings.topics.model_updates, self.model.encode(), value)

    async def _maybe_rollback(self) -> None:
        try:
            decision = self.rollbacks.check()
        except RuntimeError:  # nothing published yet
            return
        if not decision.rollback:
            return
        target = decision.predecessor_version
        update = await asyncio.to_thread(
            self.registry.rollback, self.model, target, f"automatic: {decision.reason}"
        )
        await self._send_update(update.to_bytes())
        info = await asyncio.to_thread(self.registry.get, self.model, target)
        uri = info.uri if info is not None and info.uri != BUILTIN_V0 else None
        # Training goes on from the restored version, not from the lineage that degraded.
        await self.owner.adopt(uri, learner_too=True)
        self.rebase_to = (target, info.examples_seen if info is not None else 0)
        alert = DriftAlert(
            model=self.model,
            model_version=decision.published_version,
            detector="rollback_monitor",
            signal="error",
            value=decision.published_error,
            examples_seen=self.labelled,
            timestamp=now_ms(),
            action=f"rollback_to_v{target}",
            details={
                "predecessor_error": decision.predecessor_error,
                "p_value": decision.p_value,
                "published_n": decision.published_n,
                "predecessor_n": decision.predecessor_n,
            },
        )
        await self._alert(alert, "rollback_monitor")
        log.error("rolled back v%d -> v%d: %s", decision.published_version, target, decision.reason)
        self.serving_version = target
        # Compare the restored version with nothing until something new is published.
        self.rollbacks = self._new_rollback_monitor()

    def _new_rollback_monitor(self) -> RollbackMonitor:
        s = self.settings
        return RollbackMonitor(s.rollback_window, s.rollback_min_samples, s.rollback_alpha)


def _decision_of(info: VersionInfo) -> GateDecision:
    """The gate metrics a registry entry recorded, as an accepted decision."""
    metrics: dict[str, dict[str, float]] = {"champion": {}, "challenger": {}}
    for key, value in info.metrics.items():
        who, _, rest = key.partition(".")
        if who in metrics:
            metrics[who][rest] = value
    return GateDecision(accepted=True, reason=info.detail or "accepted", metrics=metrics)
