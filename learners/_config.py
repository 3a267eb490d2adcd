"""The learner's one frozen configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from learners._scopes import Scope


class LearnerConfig(BaseModel):
    """How an :class:`~learners.IncrementalLearner` trains.

    Examples
    --------
    >>> LearnerConfig(scope="top_k", top_k=2).lr
    0.0001
    >>> LearnerConfig(scope="heads")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for LearnerConfig
    ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope = "head"
    #: Encoder layers trained (from the top) by the ``top_k`` scope.
    top_k: int = Field(default=2, ge=1)
    lr: float = Field(default=1e-4, gt=0)
    #: Decoupled weight decay (AdamW) on matrices; biases and LayerNorm are not decayed.
    weight_decay: float = Field(default=0.01, ge=0)
    #: Clip the global gradient norm to this; 0 turns clipping off.
    grad_clip: float = Field(default=1.0, ge=0)
    #: Linear learning-rate warm-up over this many steps at start and after ``rewarm()``.
    rewarm_steps: int = Field(default=0, ge=0)
    #: Total replay capacity, shared equally by the labels seen; 0 turns replay off.
    replay_size: int = Field(default=2048, ge=0)
    #: Share of each trained batch drawn from replay (the rest is new examples).
    replay_fraction: float = Field(default=0.25, ge=0, lt=1)
    #: Largest share of an incoming batch one ``user_id`` may weigh; the excess is down-weighted.
    max_user_share: float = Field(default=0.25, gt=0, le=1)
    seed: int = 0
    max_seq_len: int = Field(default=128, ge=8, le=512)
    device: Literal["auto", "cpu", "cuda"] = "cpu"
    #: Examples per forward pass when a step (or prediction) runs the encoder.
    micro_batch: int = Field(default=64, ge=1)
    #: Most new examples one optimizer step takes; a larger batch is learned in several
    #: steps, so how fast the model adapts does not depend on how feedback was batched.
    #: ``None``: one step per batch.
    step_examples: int | None = Field(default=None, ge=1)
