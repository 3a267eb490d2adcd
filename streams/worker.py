"""The Faust worker process: ``run_worker(settings)`` (``streamtune worker``).

It wires the pieces: the Faust app (``streams.app``), the feedback agent
(``streams.agents``), the pipeline with its commit order (``streams._pipeline``), the
training thread that owns the model (``streams._training``) and the dedup ledger
(``streams._dedup``). SIGTERM and SIGINT stop it cleanly: the pipeline writes a last
checkpoint of what it trained, so a restart replays nothing it does not have to.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import faust

from learners import (
    IncrementalLearner,
    LearnerConfig,
    StepResult,
    build_initial,
    default_model_path,
    latest_valid_checkpoint,
    load_checkpoint,
    load_tokenizer,
    next_version,
    remove_temporaries,
    save_checkpoint,
)
from learners._examples import Example
from schemas import Settings
from serving._records import RecordStore
from streams._clients import ensure_topics, make_redis
from streams._dedup import DedupLedger
from streams._pipeline import FeedbackPipeline
from streams._training import ResumePoint, TrainingExecutor
from streams.agents import register_feedback_agent
from streams.app import make_app

log = logging.getLogger(__name__)


class LearnerTrainer:
    """The model owner: resumes from the newest valid checkpoint and writes new ones.

    Every method runs on the training thread (see :class:`TrainingExecutor`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_path = Path(settings.model_path) if settings.model_path else default_model_path()
        self.learner: IncrementalLearner | None = None

    def resume(self) -> ResumePoint:
        """Load the newest checkpoint that verifies, or build version 0 (zero-shot)."""
        s = self.settings
        remove_temporaries(s.artifact_dir, s.model_name)
        found = latest_valid_checkpoint(
            s.artifact_dir, s.model_name, base_model_path=self.base_path
        )
        tokenizer = load_tokenizer(self.base_path)
        if found is None:
            model, _ = build_initial(
                self.base_path, s.labels, s.label_descriptions, max_len=s.max_seq_len
            )
            point = ResumePoint(version=0, examples_seen=0)
        else:
            path, _ = found
            model, manifest = load_checkpoint(path, base_model_path=self.base_path)
            point = ResumePoint(manifest.version, manifest.examples_seen, dict(manifest.offsets))
        config = LearnerConfig(
            scope=s.worker_scope, seed=s.seed, max_seq_len=s.max_seq_len, device=s.device
        )
        self.learner = IncrementalLearner(
            model, tokenizer, config, examples_seen=point.examples_seen
        )
        return point

    def learn(self, examples: Sequence[Example]) -> StepResult:
        """One step; see :meth:`IncrementalLearner.learn`."""
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
    ) -> str:
        """Write checkpoint ``version`` (temporary path, fsync, rename)."""
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
        )
        return f"{s.model_name}/v{manifest.version}"

    @property
    def _learner(self) -> IncrementalLearner:
        if self.learner is None:
            raise RuntimeError("resume() first")
        return self.learner


def build_worker_app(settings: Settings) -> tuple[faust.App, FeedbackPipeline, TrainingExecutor]:
    """Build the Faust app with its agent, and the pipeline behind it."""
    app = make_app(settings)
    executor = TrainingExecutor(LearnerTrainer(settings))
    redis = make_redis(settings)
    ledger = DedupLedger(redis, settings.redis_prefix, settings.model_name, settings.dedup_ttl_s)
    records = RecordStore(redis, settings.redis_prefix, settings.prediction_ttl_s)

    async def not_wired(key: bytes | None, letter: object) -> None:
        raise RuntimeError("dead-letter sender not wired")

    pipeline = FeedbackPipeline(settings, executor, ledger, records, not_wired)
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
    ensure_topics(settings, [settings.topics.feedback, settings.topics.dead_letter])
    Path(settings.artifact_dir, ".faust").mkdir(parents=True, exist_ok=True)
    app, _, executor = build_worker_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        executor.shutdown()


def main() -> None:
    """``python -m streams.worker``: settings from the environment."""
    run_worker(Settings.from_env())
    sys.exit(0)


if __name__ == "__main__":
    main()
