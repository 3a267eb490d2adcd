"""The learner's training state beyond its weights: AdamW's moments and the replay buffer.

Without it a restarted worker resumes with fresh moments (full-size steps along whatever
the first batch says) and an empty replay buffer (no guard against forgetting until it
refills). It is stored with a checkpoint as tensors (safetensors) plus JSON, never pickled.

Tensor names: ``optimizer.<group>.<position>.<exp_avg|exp_avg_sq|step>`` for each
parameter AdamW holds state for, by its place in the optimizer's parameter groups, and
``replay.embedding`` for the replay items' embeddings, rows indexed from the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from learners._replay import ReplayBuffer

_MOMENTS = ("exp_avg", "exp_avg_sq", "step")
REPLAY_EMBEDDING = "replay.embedding"


@dataclass(frozen=True)
class TrainState:
    """Tensors and JSON-able metadata, as a checkpoint stores them."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def capture(optimizer: torch.optim.Optimizer, replay: ReplayBuffer, steps: int) -> TrainState:
    """Copy ``optimizer``'s per-parameter state and ``replay`` (to CPU)."""
    tensors: dict[str, torch.Tensor] = {}
    shapes: list[list[list[int]]] = []
    for g, group in enumerate(optimizer.param_groups):
        shapes.append([list(p.shape) for p in group["params"]])
        for i, param in enumerate(group["params"]):
            for key, value in optimizer.state.get(param, {}).items():
                if key in _MOMENTS and isinstance(value, torch.Tensor):
                    tensors[f"optimizer.{g}.{i}.{key}"] = value.detach().cpu().contiguous()
    replay_meta, embeddings = replay.to_state()
    tensors[REPLAY_EMBEDDING] = torch.from_numpy(np.ascontiguousarray(embeddings))
    meta = {"optimizer": {"shapes": shapes}, "replay": replay_meta, "steps": steps}
    return TrainState(tensors, meta)


def restore_optimizer(optimizer: torch.optim.Optimizer, state: TrainState) -> int:
    """Load the moments into ``optimizer``; returns how many parameters got state.

    Raises ``ValueError`` when the parameter layout differs (another scope or label set):
    moments for other parameters would be wrong, not merely stale.
    """
    current = [[list(p.shape) for p in group["params"]] for group in optimizer.param_groups]
    saved = state.meta.get("optimizer", {}).get("shapes")
    if saved != current:
        raise ValueError(f"optimizer layout differs: saved {saved}, current {current}")
    loaded = 0
    for g, group in enumerate(optimizer.param_groups):
        for i, param in enumerate(group["params"]):
            names = {k: f"optimizer.{g}.{i}.{k}" for k in _MOMENTS}
            if not all(name in state.tensors for name in names.values()):
                continue  # no state yet (AdamW had not stepped it)
            moments = {k: state.tensors[name] for k, name in names.items()}
            if moments["exp_avg"].shape != param.shape or moments["step"].numel() != 1:
                raise ValueError(f"optimizer state of parameter {g}.{i} has the wrong shape")
            if not all(bool(torch.isfinite(v).all()) for v in moments.values()):
                raise ValueError(f"optimizer state of parameter {g}.{i} is not finite")
            optimizer.state[param] = {
                "step": moments["step"].reshape(()).to(torch.float32).clone(),
                "exp_avg": moments["exp_avg"].to(param.device, param.dtype).clone(),
                "exp_avg_sq": moments["exp_avg_sq"].to(param.device, param.dtype).clone(),
            }
            loaded += 1
    return loaded


def restore_replay(state: TrainState) -> ReplayBuffer:
    """The replay buffer captured in ``state``; raises ``ValueError`` if inconsistent."""
    if "replay" not in state.meta or REPLAY_EMBEDDING not in state.tensors:
        raise ValueError("no replay state")
    embeddings = state.tensors[REPLAY_EMBEDDING].to(torch.float32).numpy()
    return ReplayBuffer.from_state(state.meta["replay"], embeddings)
