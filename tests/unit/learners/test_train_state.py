"""Training state (AdamW moments, replay) saved with a checkpoint and resumed exactly."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from learners import (
    CorruptCheckpoint,
    Example,
    IncrementalLearner,
    checkpoint_path,
    prune_train_state,
    read_checkpoint,
    read_train_state,
    save_checkpoint,
)
from learners._checkpoint import TRAIN_META_FILE, TRAIN_STATE_FILE
from tests.unit.learners.conftest import Factory


def _trained(make_learner: Factory, examples: list[Example]) -> IncrementalLearner:
    learner = make_learner("head", lr=1e-2)
    for _ in range(3):
        learner.learn(examples)
    return learner


def _twin(learner: IncrementalLearner) -> IncrementalLearner:
    """Same weights and config, fresh optimizer and replay: what a restart used to give."""
    return IncrementalLearner(
        copy.deepcopy(learner.model), learner.tokenizer, learner.config, examples_seen=24
    )


def _save_versions(learner: IncrementalLearner, root: Path, n: int) -> None:
    """Versions 1..n of ``learner``, each with its training state."""
    for v in range(1, n + 1):
        state = learner.training_state()
        save_checkpoint(root, learner.model, version=v, examples_seen=0, train_state=state)


def test_resumed_learner_continues_exactly(make_learner: Factory, examples: list[Example]) -> None:
    original = _trained(make_learner, examples)
    resumed, fresh = _twin(original), _twin(original)
    assert resumed.load_training_state(original.training_state()) == 2  # weight and bias
    assert len(resumed.replay) == len(original.replay) > 0
    results = [x.learn(examples[:4]) for x in (original, resumed, fresh)]
    assert results[1].losses == results[0].losses
    assert torch.equal(original.model.head.linear.weight, resumed.model.head.linear.weight)
    # Fresh moments and an empty replay train differently: the state mattered.
    assert results[2].n_replayed == 0 < results[0].n_replayed
    assert not torch.equal(original.model.head.linear.weight, fresh.model.head.linear.weight)


def test_state_of_another_layout_changes_nothing(
    make_learner: Factory, examples: list[Example]
) -> None:
    state = _trained(make_learner, examples).training_state()
    other = make_learner("head")
    other.learn([Example("s1", "goal!", "sport", embedding=examples[0].embedding)])
    optimizer, replay = other.optimizer, other.replay
    with pytest.raises(ValueError, match="layout differs"):
        other.load_training_state(state)  # three labels now: other head shapes
    assert other.optimizer is optimizer and other.replay is replay


def test_checkpoint_carries_it_and_serving_never_reads_it(
    make_learner: Factory, examples: list[Example], tmp_path: Path
) -> None:
    learner = _trained(make_learner, examples)
    save_checkpoint(
        tmp_path,
        learner.model,
        version=1,
        examples_seen=learner.examples_seen,
        train_state=learner.training_state(),
    )
    path = checkpoint_path(tmp_path, "default", 1)
    state = read_train_state(path)
    assert state is not None
    twin = _twin(learner)
    twin.load_training_state(state)
    assert twin.learn(examples[:4]).losses == learner.learn(examples[:4]).losses

    (path / TRAIN_STATE_FILE).write_bytes(b"\0" * 64)  # altered after writing
    with pytest.raises(CorruptCheckpoint, match="sha256"):
        read_train_state(path)
    manifest = read_checkpoint(path).manifest  # serving loads the model regardless
    assert TRAIN_META_FILE not in manifest.files and TRAIN_STATE_FILE not in manifest.files


def test_checkpoint_without_it(make_learner: Factory, tmp_path: Path) -> None:
    learner = make_learner("head")
    save_checkpoint(tmp_path, learner.model, version=1, examples_seen=0)
    assert read_train_state(checkpoint_path(tmp_path, "default", 1)) is None


def test_another_versions_state_is_refused(make_learner: Factory, tmp_path: Path) -> None:
    _save_versions(make_learner("head"), tmp_path, 2)
    v1, v2 = (checkpoint_path(tmp_path, "default", v) for v in (1, 2))
    (v2 / TRAIN_META_FILE).write_bytes((v1 / TRAIN_META_FILE).read_bytes())
    with pytest.raises(CorruptCheckpoint, match="not this version's"):
        read_train_state(v2)


def test_prune_keeps_the_newest(make_learner: Factory, tmp_path: Path) -> None:
    _save_versions(make_learner("head"), tmp_path, 4)
    assert prune_train_state(tmp_path, "default", keep=2) == 2
    states = {v: read_train_state(checkpoint_path(tmp_path, "default", v)) for v in range(1, 5)}
    kept = [v for v, state in states.items() if state is not None]
    assert kept == [3, 4]
    assert not (checkpoint_path(tmp_path, "default", 1) / TRAIN_STATE_FILE).exists()
    assert read_checkpoint(checkpoint_path(tmp_path, "default", 1)).manifest.version == 1
