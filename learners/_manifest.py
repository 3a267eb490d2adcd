"""The checkpoint manifest and the errors a checkpoint can raise: data only, no I/O."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from learners._scopes import Scope

#: Model names become directory names: no separators, no leading dot.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_OFFSET_KEY = re.compile(r"^.+:\d+$")


class CheckpointError(Exception):
    """A checkpoint cannot be written or must not be loaded."""


class CorruptCheckpoint(CheckpointError):
    """Missing or truncated file, sha256 mismatch, or unparsable manifest or tensors."""


class IncompatibleCheckpoint(CheckpointError):
    """Intact, but does not fit: shapes, label count, unknown tensors or another base model."""


class NonFiniteWeights(CheckpointError):
    """A tensor holds NaN or infinity."""


class CheckpointExists(CheckpointError):
    """The version directory already exists; versions are never overwritten."""


class BaseModelRef(BaseModel):
    """The base encoder a delta checkpoint overlays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(BaseModel):
    """What a checkpoint holds and covers (``manifest.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = 1
    model_name: str = Field(pattern=NAME.pattern)
    version: int = Field(ge=0)
    parent: int | None = Field(default=None, ge=0)
    created_ms: int = Field(ge=0)
    scope: Scope
    labels: tuple[str, ...] = Field(min_length=1)
    head_scale: float = Field(gt=0, allow_inf_nan=False)
    examples_seen: int = Field(ge=0)
    #: Next offset to consume per ``topic:partition``: every record before it is included.
    offsets: dict[str, int] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    #: sha256 of every file beside the manifest (``trained_ids.json`` is optional).
    files: dict[str, str]
    #: ``None`` for a full-state checkpoint.
    base: BaseModelRef | None = None
    torch_version: str = ""

    @field_validator("offsets")
    @classmethod
    def _offsets_valid(cls, value: dict[str, int]) -> dict[str, int]:
        for key, offset in value.items():
            if not _OFFSET_KEY.match(key) or offset < 0:
                raise ValueError(f"offset {key!r}={offset}: want 'topic:partition' -> >= 0")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics_finite(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"metrics must be finite: {bad}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("labels repeat")
        return value


@dataclass(frozen=True)
class CheckpointData:
    """A verified checkpoint, parsed but not yet applied to a model."""

    path: Path
    manifest: Manifest
    tensors: dict[str, torch.Tensor]
    encoder_config: dict[str, Any]
    #: Feedback event ids first trained into this version (``()`` when not recorded).
    trained_ids: tuple[str, ...] = ()
