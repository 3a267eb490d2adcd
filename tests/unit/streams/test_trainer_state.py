"""The worker's learner state across a drift (forgotten) and a restart (resumed)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from learners import Example, checkpoint_path
from learners._checkpoint import TRAIN_META_FILE
from schemas import Settings
from streams.worker import LearnerTrainer

LABELS = ("negative", "positive")
TEXTS = [("a wonderful film", "positive"), ("dull and long", "negative")] * 4


def _trained(s: Settings) -> LearnerTrainer:
    trainer = LearnerTrainer(s)
    trainer.resume()
    trainer.learn([Example(f"e{i}", t, lab) for i, (t, lab) in enumerate(TEXTS)])
    return trainer


@pytest.mark.parametrize("reset", [True, False])
def test_on_drift_resets_replay_and_optimizer(tmp_path: Path, reset: bool) -> None:
    s = Settings(
        artifact_dir=str(tmp_path),
        labels=LABELS,
        drift_reset_replay=reset,
        drift_reset_optimizer=reset,
    )
    trainer = _trained(s)
    learner = trainer.learner
    assert learner is not None and learner.optimizer.state and len(learner.replay)
    trainer.on_drift()
    assert (not learner.optimizer.state, len(learner.replay) == 0) == (reset, reset)


@pytest.mark.parametrize("keep", [True, False])
def test_restart_resumes_moments_and_replay(tmp_path: Path, keep: bool) -> None:
    s = Settings(artifact_dir=str(tmp_path), labels=LABELS, checkpoint_train_state=keep)
    before = _trained(s)
    for version in (1, 2, 3):
        before.save(version, version - 1 or None, 8, {}, {})
    after = LearnerTrainer(s)
    assert after.resume().version == 3
    # Only the newest two versions keep a training state.
    held = [(checkpoint_path(tmp_path, "default", v) / TRAIN_META_FILE).exists() for v in (1, 2, 3)]
    assert held == [False, keep, keep]
    learner, old = after.learner, before.learner
    assert learner is not None and old is not None
    assert len(learner.replay) == (len(old.replay) if keep else 0)
    assert bool(learner.optimizer.state) == keep


def test_unreadable_state_costs_only_the_state(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = Settings(artifact_dir=str(tmp_path), labels=LABELS)
    _trained(s).save(1, None, 8, {}, {})
    (checkpoint_path(tmp_path, "default", 1) / TRAIN_META_FILE).write_text("{}")
    after = LearnerTrainer(s)
    with caplog.at_level(logging.WARNING):
        assert after.resume().version == 1  # the model still resumes
    assert after.learner is not None and len(after.learner.replay) == 0
    assert "not resumed" in caplog.text
