"""On a confirmed drift the worker's learner forgets the old concept's replay and moments."""

from __future__ import annotations

from pathlib import Path

import pytest

from learners import Example
from schemas import Settings
from streams.worker import LearnerTrainer

LABELS = ("negative", "positive")
TEXTS = [("a wonderful film", "positive"), ("dull and long", "negative")] * 4


@pytest.mark.parametrize("reset", [True, False])
def test_on_drift_resets_replay_and_optimizer(tmp_path: Path, reset: bool) -> None:
    s = Settings(
        artifact_dir=str(tmp_path),
        labels=LABELS,
        drift_reset_replay=reset,
        drift_reset_optimizer=reset,
    )
    trainer = LearnerTrainer(s)
    trainer.resume()
    trainer.learn([Example(f"e{i}", t, lab) for i, (t, lab) in enumerate(TEXTS)])
    learner = trainer.learner
    assert learner is not None and learner.optimizer.state and len(learner.replay)
    trainer.on_drift()
    assert (not learner.optimizer.state, len(learner.replay) == 0) == (reset, reset)
