"""A generic conformance suite for learners, run against every trainable scope.

Each check takes a factory that returns a fresh learner on an *untrained base model*
(same model, same config, same seed every call), a few non-empty batches, and a
scratch directory. A check raises :class:`AssertionError` naming what broke.

Usage (see ``tests/unit/learners/test_conformance.py``)::

    for name, check in CHECKS.items():
        check(factory, batches, tmp_path)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from learners._checkpoint import (
    checkpoint_path,
    load_checkpoint,
    load_checkpoint_into,
    save_checkpoint,
)
from learners._examples import Example
from learners._learner import IncrementalLearner

LearnerFactory = Callable[[], IncrementalLearner]
Batches = Sequence[Sequence[Example]]
Check = Callable[[LearnerFactory, Batches, Path], None]


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def snapshot(learner: IncrementalLearner) -> dict[str, torch.Tensor]:
    """A detached copy of every tensor of the learner's model."""
    return {k: v.detach().clone() for k, v in learner.model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Bitwise equality of two snapshots."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _probe(batches: Batches) -> list[str]:
    return [ex.text for batch in batches for ex in batch]


def _train(learner: IncrementalLearner, batches: Batches) -> int:
    return sum(learner.learn(batch).n_trained for batch in batches)


def check_empty_batch(factory: LearnerFactory, batches: Batches, workdir: Path) -> None:
    """An empty batch changes nothing: weights, counters, replay, optimizer."""
    learner = factory()
    learner.learn(batches[0])
    before = snapshot(learner)
    seen, steps, replay = learner.examples_seen, learner.steps, len(learner.replay)
    moments = [s["exp_avg"].clone() for s in learner.optimizer.state.values()]
    result = learner.learn([])
    _expect(result.n_trained == 0 and result.mean_loss is None, f"empty batch trained: {result}")
    _expect(same_weights(before, snapshot(learner)), "empty batch changed the weights")
    _expect(
        (learner.examples_seen, learner.steps, len(learner.replay)) == (seen, steps, replay),
        "empty batch changed counters or replay",
    )
    after = [s["exp_avg"] for s in learner.optimizer.state.values()]
    _expect(
        all(torch.equal(a, b) for a, b in zip(moments, after, strict=True)),
        "empty batch changed optimizer state",
    )


def check_clone_equality(factory: LearnerFactory, batches: Batches, workdir: Path) -> None:
    """A clone equals its original, is independent of it, and trains identically."""
    learner = factory()
    learner.learn(batches[0])
    clone = learner.clone()
    before = snapshot(learner)
    _expect(same_weights(before, snapshot(clone)), "clone weights differ from the original")
    rest = batches[1:] or batches[:1]
    _train(clone, rest)
    _expect(same_weights(before, snapshot(learner)), "training the clone changed the original")
    _train(learner, rest)
    _expect(
        same_weights(snapshot(learner), snapshot(clone)),
        "clone and original diverged on the same data",
    )
    _expect(clone.examples_seen == learner.examples_seen, "clone counts differently")


def check_seeded_determinism(factory: LearnerFactory, batches: Batches, workdir: Path) -> None:
    """Two learners, same seed and data: identical losses and bitwise-identical weights."""
    a, b = factory(), factory()
    for batch in batches:
        ra, rb = a.learn(batch), b.learn(batch)
        _expect(ra == rb, f"step results differ:\n{ra}\n{rb}")
    _expect(same_weights(snapshot(a), snapshot(b)), "same seed and data gave different weights")


def check_roundtrip(factory: LearnerFactory, batches: Batches, workdir: Path) -> None:
    """Save then load (fresh and overlaid on a base copy) predicts identically."""
    learner = factory()
    trained = _train(learner, batches)
    manifest = save_checkpoint(
        workdir,
        learner.model,
        version=1,
        parent=0,
        examples_seen=learner.examples_seen,
        offsets={"feedback:0": trained},
        metrics={"loss": 0.5},
        scope=learner.config.scope,
    )
    _expect(manifest.examples_seen == trained, "manifest does not count the examples trained")
    _expect(list(manifest.labels) == learner.labels, "manifest labels differ")
    texts = _probe(batches)
    expected = learner.predict_proba(texts)
    path = checkpoint_path(workdir, manifest.model_name, manifest.version)
    loaded, read_back = load_checkpoint(path)
    _expect(read_back == manifest, "manifest read back differs from the one written")
    again = IncrementalLearner(loaded, learner.tokenizer, learner.config)
    _expect(
        np.array_equal(again.predict_proba(texts), expected), "loaded model predicts differently"
    )
    base = factory()
    load_checkpoint_into(base.model, path)
    _expect(
        np.array_equal(base.predict_proba(texts), expected),
        "checkpoint overlaid on the base predicts differently",
    )


def check_label_growth(factory: LearnerFactory, batches: Batches, workdir: Path) -> None:
    """A new label adds a row; old rows' logits and optimizer moments stay exactly."""
    learner = factory()
    learner.learn(batches[0])
    emb = np.stack(learner.embed(_probe(batches)))
    head = learner.model.head
    with torch.no_grad():
        old_logits = head(torch.from_numpy(emb).to(learner.device)).cpu()
    old_moments = {k: v.clone() for k, v in learner.optimizer.state[head.linear.weight].items()}
    n_old = len(learner.labels)
    fresh = "conformance-new-label"
    _expect(learner.add_labels([fresh]) == [fresh], "add_labels did not report the new label")
    head = learner.model.head
    with torch.no_grad():
        new_logits = head(torch.from_numpy(emb).to(learner.device)).cpu()
    _expect(new_logits.shape[1] == n_old + 1, "no output row was added")
    _expect(torch.equal(new_logits[:, :n_old], old_logits), "old rows' logits changed")
    grown = learner.optimizer.state[head.linear.weight]
    for key in ("exp_avg", "exp_avg_sq"):
        _expect(torch.equal(grown[key][:n_old], old_moments[key]), f"old rows' {key} changed")
        _expect(bool((grown[key][n_old:] == 0).all()), f"new row's {key} is not zero")
    ex = batches[0][0]
    other = Example(ex.event_id + "-other", ex.text, "conformance-other", ex.embedding)
    result = learner.learn([other])
    _expect(result.labels_added == ("conformance-other",), f"learn did not grow: {result}")
    _expect(learner.labels[-2:] == [fresh, "conformance-other"], "label order is not stable")
    _expect(bool(np.isfinite(learner.predict_proba(emb)).all()), "grown model is not finite")


CHECKS: dict[str, Check] = {
    "empty_batch": check_empty_batch,
    "clone_equality": check_clone_equality,
    "seeded_determinism": check_seeded_determinism,
    "roundtrip": check_roundtrip,
    "label_growth": check_label_growth,
}
