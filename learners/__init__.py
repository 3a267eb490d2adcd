"""Incremental learning: the classifier, the learner, replay, drift detection, checkpoints.

Pure logic: nothing here imports a Kafka client.
"""

from learners._caps import CapResult, cap_per_user, user_cap
from learners._checkpoint import (
    apply_checkpoint,
    checkpoint_digest,
    checkpoint_path,
    file_sha256,
    latest_valid_checkpoint,
    list_versions,
    load_checkpoint,
    load_checkpoint_into,
    next_version,
    prune_checkpoints,
    read_checkpoint,
    remove_temporaries,
    save_checkpoint,
    verify_checkpoint,
)
from learners._config import LearnerConfig
from learners._device import autocast, select_device
from learners._examples import Example, Source, offset_key, offsets_covered
from learners._learner import IncrementalLearner, StepResult, replay_count
from learners._manifest import (
    BaseModelRef,
    CheckpointData,
    CheckpointError,
    CheckpointExists,
    CorruptCheckpoint,
    IncompatibleCheckpoint,
    Manifest,
    NonFiniteWeights,
)
from learners._model import (
    Batch,
    CosineHead,
    TextClassifier,
    build_initial,
    default_model_path,
    describe,
    load_tokenizer,
    mean_pool,
    tokenize,
)
from learners._replay import ReplayBuffer
from learners._scopes import SCOPES, Scope, apply_scope

__all__ = [
    "SCOPES",
    "BaseModelRef",
    "Batch",
    "CapResult",
    "CheckpointData",
    "CheckpointError",
    "CheckpointExists",
    "CorruptCheckpoint",
    "CosineHead",
    "Example",
    "IncompatibleCheckpoint",
    "IncrementalLearner",
    "LearnerConfig",
    "Manifest",
    "NonFiniteWeights",
    "ReplayBuffer",
    "Scope",
    "Source",
    "StepResult",
    "TextClassifier",
    "apply_checkpoint",
    "apply_scope",
    "autocast",
    "build_initial",
    "cap_per_user",
    "checkpoint_digest",
    "checkpoint_path",
    "default_model_path",
    "describe",
    "file_sha256",
    "latest_valid_checkpoint",
    "list_versions",
    "load_checkpoint",
    "load_checkpoint_into",
    "load_tokenizer",
    "mean_pool",
    "next_version",
    "offset_key",
    "offsets_covered",
    "prune_checkpoints",
    "read_checkpoint",
    "remove_temporaries",
    "replay_count",
    "save_checkpoint",
    "select_device",
    "tokenize",
    "user_cap",
    "verify_checkpoint",
]
