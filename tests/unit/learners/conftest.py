"""Shared fixtures: the real MiniLM, loaded once per session and deep-copied per learner."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch
from transformers import PreTrainedTokenizerBase

from learners import (
    Example,
    IncrementalLearner,
    LearnerConfig,
    Scope,
    TextClassifier,
    build_initial,
    default_model_path,
)

TEXTS = [
    ("a wonderful, moving film", "positive"),
    ("dull and far too long", "negative"),
    ("i loved every minute", "positive"),
    ("the worst acting this year", "negative"),
    ("a joy from start to finish", "positive"),
    ("boring plot, flat characters", "negative"),
    ("brilliant and funny", "positive"),
    ("a waste of two hours", "negative"),
]


@pytest.fixture(scope="session")
def minilm_base() -> tuple[TextClassifier, PreTrainedTokenizerBase]:
    torch.manual_seed(0)
    return build_initial(default_model_path(), ["negative", "positive"], max_len=32)


@pytest.fixture(scope="session")
def examples(minilm_base: tuple[TextClassifier, PreTrainedTokenizerBase]) -> list[Example]:
    """Labelled examples carrying the embeddings serving would have stored."""
    model, tok = minilm_base
    learner = IncrementalLearner(copy.deepcopy(model), tok, LearnerConfig(max_seq_len=32))
    embs = learner.embed([t for t, _ in TEXTS])
    return [
        Example(f"e{i}", text, label, embedding=emb.astype(np.float32), user_id=f"u{i % 3}")
        for i, ((text, label), emb) in enumerate(zip(TEXTS, embs, strict=True))
    ]


Factory = Callable[..., IncrementalLearner]


@pytest.fixture
def make_learner(minilm_base: tuple[TextClassifier, PreTrainedTokenizerBase]) -> Factory:
    """Fresh learner on a deep copy of the base model; keyword arguments go to the config."""
    model, tok = minilm_base

    def make(scope: Scope = "head", **config: object) -> IncrementalLearner:
        settings: dict[str, object] = {
            "scope": scope,
            "top_k": 1,
            "lr": 1e-3,
            "replay_size": 16,
            "max_user_share": 1.0,
            "max_seq_len": 32,
            "seed": 0,
        }
        settings.update(config)
        return IncrementalLearner(copy.deepcopy(model), tok, LearnerConfig.model_validate(settings))

    return make
