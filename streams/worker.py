"""The Faust worker process: ``run_worker(settings)`` (``streamtune worker``).

It wires the pieces: the Faust app (``streams.app``), the feedback agent
(``streams.agents``), the pipeline with its commit order (``streams._pipeline``), the
training thread that owns the model (``streams._training``) and the dedup ledger
(``streams._dedup``). SIGTERM and SIGINT stop it cleanly: the pipeline writes a last
checkpoint of what it trained, so a restart replays nothing it does not have to.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import faust
import numpy as np
import torch

from learners import (
    CheckpointError,
    IncrementalLearner,
    LearnerConfig,
    ReplayBuffer,
    StepResult,
    TextClassifier,
    build_initial,
    default_model_path,
    latest_valid_checkpoint,
    load_checkpoint,
    load_tokenizer,
    next_version,
    prune_train_state,
    read_train_state,
    remove_temporaries,
    save_checkpoint,
    tokenize,
)
from learners._checkpoint import PARTIAL_WRITE
from learners._examples import Example
from learners.gate import EvalSet, GateDecision, Holdout, HoldoutSet, Scores, ValidationGate
from schemas import Settings
from serving._metrics import Metrics, start_metrics_server
from serving._records import RecordStore
from serving._registry import Registry
from streams._clients import ensure_topics, make_redis
from streams._crashpoints import configure_crash_point, crash_point
from streams._dedup import DedupLedger
from streams._lifecycle import Lifecycle
from streams._pipeline import FeedbackPipeline
from streams._security import check_redis
from streams._training import ResumePoint, TrainingExecutor
from streams.agents import register_feedback_agent
from streams.app import make_app

log = logging.getLogger(__name__)

#: Default learning rate per scope: the head alone takes much larger steps than the encoder.
SCOPE_LR = {"head": 5e-3, "top_k": 1e-4, "full": 5e-5}


class LearnerTrainer:
    """The model owner: resumes from the newest valid checkpoint and writes new ones.

    Every method runs on the training thread (see :class:`TrainingExecutor`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_path = Path(settings.model_path) if settings.model_path else default_model_path()
        self.learner: IncrementalLearner | None = None
        self.tokenizer: Any = None
        #: The serving version's model, for the gate; the learner's model is the challenger.
        self.champion: TextClassifier | None = None
        #: The trusted set and its copy with embeddings (``head`` scope: computed once).
        self._trusted: tuple[HoldoutSet[Example], HoldoutSet[Example]] | None = None

    def resume(self) -> ResumePoint:
        """Load the newest checkpoint that verifies, or build version 0 (zero-shot)."""
        s = self.settings
        remove_temporaries(s.artifact_dir, s.model_name)
        found = latest_valid_checkpoint(
            s.artifact_dir, s.model_name, base_model_path=self.base_path
        )
        tokenizer = self.tokenizer = load_tokenizer(self.base_path)
        if found is None:
            model, _ = build_initial(
                self.base_path, s.labels, s.label_descriptions, max_len=s.max_seq_len
            )
            point = ResumePoint(version=0, examples_seen=0)
        else:
            path, _ = found
            model, manifest = load_checkpoint(path, base_model_path=self.base_path)
            point = ResumePoint(
                manifest.version,
                manifest.examples_seen,
                dict(manifest.offsets),
                manifest.parent,
                dict(manifest.metrics),
            )
        self.learner = IncrementalLearner(
            model, tokenizer, self._config(), examples_seen=point.examples_seen
        )
        if found is not None:
            self._resume_train_state(found[0])
        return point

    def _resume_train_state(self, path: Path) -> None:
        """Resume optimizer moments and replay from checkpoint ``path``, if it holds them.

        A missing, corrupt or mismatched training state (another scope, label set or replay
        size) costs only a fresh optimizer and an empty replay buffer: logged, not fatal.
        """
        learner = self._learner
        try:
            state = read_train_state(path)
            if state is None:
                log.info("%s holds no training state: fresh optimizer and replay", path)
                return
            moments = learner.load_training_state(state)
        except (CheckpointError, ValueError) as exc:
            log.warning(
                "training state of %s not resumed (%s): fresh optimizer and replay", path, exc
            )
            return
        log.info(
            "resumed training state of %s: moments of %d parameters, %d replay items",
            path,
            moments,
            len(learner.replay),
        )

    def _config(self) -> LearnerConfig:
        s = self.settings
        return LearnerConfig(
            scope=s.worker_scope,
            seed=s.seed,
            max_seq_len=s.max_seq_len,
            device=s.device,
            lr=s.learner_lr or SCOPE_LR[s.worker_scope],
            replay_size=s.learner_replay_size,
            replay_fraction=s.learner_replay_fraction,
            max_user_share=s.learner_max_user_share,
            rewarm_steps=s.learner_rewarm_steps,
            step_examples=s.learner_step_examples,
        )

    def on_drift(self) -> None:
        """A confirmed drift: replay and optimizer state hold the old concept; re-warm."""
        if self.settings.drift_reset_replay:
            cfg = self._learner.config
            self._learner.replay = ReplayBuffer(cfg.replay_size, seed=cfg.seed)
        if self.settings.drift_reset_optimizer:
            self._learner.reset_optimizer()
        self._learner.rewarm()

    def _load(self, uri: str | None) -> TextClassifier:
        if uri is None:
            s = self.settings
            model, _ = build_initial(
                self.base_path, s.labels, s.label_descriptions, max_len=s.max_seq_len
            )
            return model
        model, _ = load_checkpoint(uri, base_model_path=self.base_path)
        return model

    def adopt(self, uri: str | None, learner_too: bool) -> None:
        """Make a published version the champion (and, on rollback, the learner's model)."""
        model = self._load(uri)
        self.champion = copy.deepcopy(model)
        if learner_too:
            seen = self._learner.examples_seen
            self.learner = IncrementalLearner(
                model, self.tokenizer, self._config(), examples_seen=seen
            )

    def promote(self) -> None:
        """The learner's model was just published: it becomes the champion."""
        self.champion = copy.deepcopy(self._learner.model)

    def _proba(self, model: TextClassifier, examples: Sequence[Example]) -> np.ndarray:
        """Probabilities of ``model`` on examples: stored embeddings for ``head``, else text."""
        embs = [e.embedding for e in examples]
        with torch.no_grad():
            if self.settings.worker_scope == "head" and all(x is not None for x in embs):
                emb = torch.from_numpy(np.stack([np.asarray(x, np.float32) for x in embs]))
            else:
                chunks = []
                for i in range(0, len(examples), 64):
                    part = [e.text for e in examples[i : i + 64]]
                    batch = tokenize(
                        self.tokenizer,
                        part,
                        self.settings.max_seq_len,
                        next(model.parameters()).device,
                    )
                    chunks.append(model.embed(batch).float().cpu())
                emb = torch.cat(chunks) if chunks else torch.zeros(0, model.dim)
            return torch.softmax(model.head(emb).float(), dim=-1).numpy()

    def gate_decision(
        self,
        gate: ValidationGate,
        holdout: Holdout[Example],
        train_loss: float | None,
        limit: int | None = None,
    ) -> GateDecision:
        """Champion vs the learner's model (challenger) on the holdout.

        ``limit`` keeps only the newest held-out examples: after a drift, the ones that
        arrived after it, so the old concept does not vote against the adapted model.
        """
        if self.champion is None:
            raise RuntimeError("no champion: adopt() first")
        champion, challenger = self.champion, self._learner.model

        def scorer(model: TextClassifier) -> Callable[[Sequence[Example]], Scores]:
            return lambda xs: Scores.of(
                self._proba(model, xs) if xs else np.zeros((0, len(model.labels))), model.labels
            )

        def scored(subset: HoldoutSet[Example]) -> EvalSet:
            xs = subset.examples
            return EvalSet(subset.labels, scorer(champion)(xs), scorer(challenger)(xs))

        weights = [p.detach().cpu() for p in challenger.parameters()]
        trusted = holdout.trusted
        if trusted is not None and self.settings.worker_scope == "head":
            trusted = self._embedded(trusted)
        return gate.decide(
            scored(holdout.recent(limit)),
            scored(trusted) if trusted is not None else None,
            weights=weights,
            train_loss=train_loss,
            after_drift=limit is not None,
        )

    def _embedded(self, trusted: HoldoutSet[Example]) -> HoldoutSet[Example]:
        """The trusted set with embeddings, computed on first use.

        The ``head`` scope never changes the encoder, so champion and challenger share
        the embeddings; without this every decision encoded the whole set twice.
        """
        if self._trusted is None or self._trusted[0] is not trusted:
            embs = self._learner.embed([e.text for e in trusted.examples])
            examples = tuple(
                replace(e, embedding=emb) for e, emb in zip(trusted.examples, embs, strict=True)
            )
            self._trusted = (trusted, HoldoutSet(examples, trusted.labels))
        return self._trusted[1]

    def learn(self, examples: Sequence[Example]) -> StepResult:
        """Learn a micro-batch; see :meth:`IncrementalLearner.learn`."""
        return self._learner.learn(examples)

    def next_version(self) -> int:
        """Return the next unused version number (corrupt directories included)."""
        return next_version(self.settings.artifact_dir, self.settings.model_name)

    def save(
        self,
        version: int,
        parent: int | None,
        examples_seen: int,
        offsets: Mapping[str, int],
        metrics: Mapping[str, float],
        trained_ids: Sequence[str] | None = None,
    ) -> str:
        """Write checkpoint ``version`` (temporary path, fsync, rename) with its trained ids."""
        s = self.settings
        manifest = save_checkpoint(
            s.artifact_dir,
            self._learner.model,
            version=version,
            parent=parent,
            examples_seen=examples_seen,
            offsets=offsets,
            metrics=metrics,
            scope=s.worker_scope,
            model_name=s.model_name,
            base_model_path=self.base_path,
            trained_ids=trained_ids,
            train_state=self._learner.training_state() if s.checkpoint_train_state else None,
            on_write=_crash_midway,
        )
        # Only the newest versions' training state can be resumed from; the rest is megabytes.
        prune_train_state(s.artifact_dir, s.model_name, keep=2)
        return f"{s.model_name}/v{manifest.version}"

    @property
    def _learner(self) -> IncrementalLearner:
        if self.learner is None:
            raise RuntimeError("resume() first")
        return self.learner


def _crash_midway(stage: str) -> None:
    """``save_checkpoint``'s hook: the ``checkpoint_writing`` crash point (testing only)."""
    if stage == PARTIAL_WRITE:
        crash_point("checkpoint_writing")


class ExecutorOwner:
    """The lifecycle's view of the model owner: every call runs on the training thread."""

    def __init__(self, executor: TrainingExecutor, trainer: LearnerTrainer) -> None:
        self.executor = executor
        self.trainer = trainer

    async def evaluate(
        self,
        gate: ValidationGate,
        holdout: Holdout[Example],
        train_loss: float | None,
        limit: int | None,
    ) -> GateDecision:
        """See :meth:`LearnerTrainer.gate_decision`."""
        return await self.executor.call(
            self.trainer.gate_decision, gate, holdout, train_loss, limit
        )

    async def on_drift(self) -> None:
        """See :meth:`LearnerTrainer.on_drift`."""
        await self.executor.call(self.trainer.on_drift)

    async def promote(self) -> None:
        """See :meth:`LearnerTrainer.promote`."""
        await self.executor.call(self.trainer.promote)

    async def adopt(self, uri: str | None, *, learner_too: bool) -> None:
        """See :meth:`LearnerTrainer.adopt`."""
        await self.executor.call(self.trainer.adopt, uri, learner_too)


def build_worker_app(
    settings: Settings, metrics: Metrics | None = None
) -> tuple[faust.App, FeedbackPipeline, TrainingExecutor]:
    """Build the Faust app with its agent, and the pipeline behind it."""
    app = make_app(settings)
    trainer = LearnerTrainer(settings)
    executor = TrainingExecutor(trainer)
    redis = make_redis(settings)
    ledger = DedupLedger(redis, settings.redis_prefix, settings.model_name, settings.dedup_ttl_s)
    records = RecordStore(redis, settings.redis_prefix, settings.prediction_ttl_s)
    lifecycle = Lifecycle(
        settings,
        Registry(redis, settings.redis_prefix),
        ExecutorOwner(executor, trainer),
        metrics=metrics,
    )

    async def not_wired(key: bytes | None, letter: object) -> None:
        raise RuntimeError("dead-letter sender not wired")

    pipeline = FeedbackPipeline(
        settings, executor, ledger, records, not_wired, lifecycle=lifecycle, metrics=metrics
    )
    register_feedback_agent(app, settings, pipeline)

    async def _flush(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        if pipeline.started.is_set():
            try:
                await asyncio.wait_for(pipeline.flush(), timeout=30)
            except Exception:
                log.exception("final checkpoint failed; a restart replays from the last one")
        log.info("worker stopping: %s", dict(pipeline.counters))

    app.on_before_shutdown.connect(_flush)

    return app, pipeline, executor


def run_worker(settings: Settings) -> None:
    """Run the feedback worker until SIGTERM/SIGINT; returns when it has stopped."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    configure_crash_point(settings.crash_point)
    check_redis(settings)  # fail fast and clearly, before anything starts
    ensure_topics(settings)
    Path(settings.artifact_dir, ".faust").mkdir(parents=True, exist_ok=True)
    metrics = Metrics()
    server, port = start_metrics_server(settings, metrics.registry)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
    app, pipeline, executor = build_worker_app(settings, metrics)
    # Ready once the agent has loaded the model and is about to consume (read per scrape).
    metrics.ready.set_function(lambda: float(pipeline.started.is_set()))
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        executor.shutdown()
        server.shutdown()
        server.server_close()


def main() -> None:
    """``python -m streams.worker``: settings from the environment."""
    run_worker(Settings.from_env())
    sys.exit(0)


if __name__ == "__main__":
    main()
