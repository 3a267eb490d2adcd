"""The learner's own behaviour beyond the conformance suite (head scope: fast)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import learners
from learners import Example, LearnerConfig, StepResult
from tests.unit.learners.conftest import Factory


def test_head_scope_never_runs_the_encoder(
    make_learner: Factory, examples: list[Example], monkeypatch: pytest.MonkeyPatch
) -> None:
    learner = make_learner("head")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("encoder ran in a head step with stored embeddings")

    monkeypatch.setattr(learner.model.encoder, "forward", forbidden)
    result = learner.learn(examples)
    assert result.n_trained == len(examples)
    assert not any(p.requires_grad for p in learner.model.encoder.parameters())


def test_head_scope_computes_missing_embeddings(
    make_learner: Factory, examples: list[Example]
) -> None:
    with_emb, without = make_learner("head"), make_learner("head")
    stripped = [replace(ex, embedding=None) for ex in examples]
    a, b = with_emb.learn(examples), without.learn(stripped)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4)
    assert all(ex.embedding is not None for ex in without.replay.sample(4))


def test_step_trains_and_reports(make_learner: Factory, examples: list[Example]) -> None:
    learner = make_learner("head", lr=1e-2)
    first = learner.learn(examples)
    for _ in range(10):
        learner.learn(examples)
    last = learner.learn(examples)
    assert first.mean_loss is not None and last.mean_loss is not None
    assert last.mean_loss < first.mean_loss
    assert first.event_ids == tuple(ex.event_id for ex in examples)
    assert first.n_replayed == 0 and last.n_replayed > 0
    assert learner.examples_seen == 12 * len(examples)  # replay is never counted
    assert first.grad_norm is not None and first.lr == pytest.approx(1e-2)


def test_per_user_cap_downweights_and_trains_all(
    make_learner: Factory, examples: list[Example]
) -> None:
    learner = make_learner("head", max_user_share=0.25)
    flood = [replace(ex, user_id="flood") for ex in examples]  # 8 from one user: cap 2
    result = learner.learn(flood)
    assert result.event_ids == tuple(f"e{i}" for i in range(8))
    assert result.dropped_ids == ()
    assert learner.examples_seen == 8


def test_new_label_grows_from_its_examples(make_learner: Factory, examples: list[Example]) -> None:
    learner = make_learner("head", lr=1e-6)
    sport = replace(examples[0], event_id="s1", label="sport")
    result = learner.learn([*examples[:2], sport])
    assert result.labels_added == ("sport",)
    assert learner.labels == ["negative", "positive", "sport"]
    probs = learner.predict_proba(np.stack([sport.embedding]))  # type: ignore[list-item]
    assert probs.shape == (1, 3) and probs[0].argmax() == 2  # its row starts at its prototype


def test_weights_scale_the_loss(make_learner: Factory, examples: list[Example]) -> None:
    light, heavy = make_learner("head"), make_learner("head")
    light.learn([examples[0], replace(examples[1], weight=0.01)])
    heavy.learn([examples[0], replace(examples[1], weight=100.0)])
    assert not torch.equal(light.model.head.linear.weight, heavy.model.head.linear.weight)


def test_rewarm_ramps_learning_rate(make_learner: Factory, examples: list[Example]) -> None:
    learner = make_learner("head", lr=1e-3, rewarm_steps=4)
    lrs = [learner.learn(examples[:2]).lr for _ in range(5)]
    assert lrs == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3])
    learner.rewarm()
    assert learner.learn(examples[:2]).lr == pytest.approx(2.5e-4)


def test_empty_batch_result() -> None:
    result = StepResult()
    assert (result.n_trained, result.n_dropped, result.mean_loss, result.accuracy) == (
        0,
        0,
        None,
        None,
    )


def test_predict_proba_inputs(make_learner: Factory, examples: list[Example]) -> None:
    learner = make_learner("head")
    from_text = learner.predict_proba([ex.text for ex in examples[:3]])
    from_emb = learner.predict_proba(np.stack([ex.embedding for ex in examples[:3]]))  # type: ignore[misc]
    np.testing.assert_allclose(from_text, from_emb, atol=1e-5)
    np.testing.assert_allclose(from_text.sum(axis=1), 1.0, rtol=1e-5)
    assert learner.predict_proba([]).shape == (0, 2)
    with pytest.raises(ValueError, match="shape"):
        learner.predict_proba(np.zeros((2, 5), dtype=np.float32))


def test_top_k_freezes_lower_layers(make_learner: Factory) -> None:
    learner = make_learner("top_k", top_k=2)
    layers = learner.model.encoder.encoder.layer
    assert not any(p.requires_grad for p in layers[3].parameters())
    assert all(p.requires_grad for p in layers[4].parameters())
    assert not learner.model.encoder.embeddings.word_embeddings.weight.requires_grad


def test_config_rejects_bad_values(make_learner: Factory) -> None:
    with pytest.raises(ValueError, match="replay_fraction"):
        LearnerConfig(replay_fraction=1.0)
    with pytest.raises(ValueError, match="top_k"):
        make_learner("top_k", top_k=99)


def test_exports_exist() -> None:
    missing = [name for name in learners.__all__ if not hasattr(learners, name)]
    assert missing == []


def test_batch_is_learned_in_steps_of_step_examples(
    make_learner: Factory, examples: list[Example]
) -> None:
    learner = make_learner("head", step_examples=3)
    result = learner.learn(examples)
    assert learner.steps == result.n_steps == 3  # 3 + 3 + 2
    assert result.event_ids == tuple(ex.event_id for ex in examples)
    assert len(result.losses) == len(result.correct) == len(examples)
    assert result.n_replayed > 0  # later steps replay what earlier steps learned
    whole = make_learner("head", step_examples=None)
    whole.learn(examples)
    assert whole.steps == 1


def test_how_feedback_was_batched_does_not_change_the_model(
    make_learner: Factory, examples: list[Example]
) -> None:
    burst, trickle = make_learner("head", step_examples=2), make_learner("head", step_examples=2)
    burst_result = burst.learn(examples)
    trickle_losses: list[float] = []
    for k in range(0, len(examples), 2):
        trickle_losses += trickle.learn(examples[k : k + 2]).losses
    assert torch.equal(burst.model.head.linear.weight, trickle.model.head.linear.weight)
    assert burst_result.losses == tuple(trickle_losses)
    assert (burst.steps, burst.examples_seen) == (trickle.steps, trickle.examples_seen)


def test_reset_optimizer_forgets_the_moments(
    make_learner: Factory, examples: list[Example]
) -> None:
    learner = make_learner("head")
    learner.learn(examples)
    assert learner.optimizer.state  # AdamW keeps moments per parameter
    before = learner.model.head.linear.weight.detach().clone()
    learner.reset_optimizer()
    assert not learner.optimizer.state
    result = learner.learn(examples[:2])
    assert result.n_trained == 2
    assert not torch.equal(before, learner.model.head.linear.weight)  # still trains the head
