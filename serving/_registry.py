"""The model registry in Redis: every version, the current pointer, and the full history.

Keys, under ``{redis_prefix}models:{model}:``

- ``versions``: hash ``version -> VersionInfo JSON`` (published and rejected candidates);
- ``current``: the version serving should use;
- ``history``: list of :class:`HistoryEntry` JSON, oldest first (what served when, and why).

Publishing writes the registry first (one MULTI/EXEC), then the caller produces the
``ModelUpdate``; a serving process that missed the message still finds the pointer.
"""

from __future__ import annotations

from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict, Field

from schemas import ModelUpdate, UpdateReason, now_ms

Status = Literal["published", "rejected"]


class RegistryError(RuntimeError):
    """A registry operation is not allowed (for example rolling back to an unknown version)."""


class VersionInfo(BaseModel):
    """One model version as the registry records it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: int = Field(ge=0)
    uri: str
    sha256: str
    reason: UpdateReason
    status: Status
    parent_version: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    examples_seen: int = 0
    labels: tuple[str, ...] = ()
    detail: str = ""
    created_ms: int = Field(default_factory=now_ms)


class HistoryEntry(BaseModel):
    """A change of what serves (or a decision not to change it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at_ms: int
    event: Literal["published", "rejected", "rollback"]
    version: int
    previous: int | None
    reason: str
    metrics: dict[str, float] = Field(default_factory=dict)


class Registry:
    """Read and change the registry of one Redis key prefix."""

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, model: str, part: str) -> str:
        return f"{self.prefix}models:{model}:{part}"

    def current_version(self, model: str) -> int | None:
        """The version serving should use, or ``None`` before the first publication."""
        raw = self.client.get(self._key(model, "current"))
        return int(raw) if raw is not None else None

    def current(self, model: str) -> VersionInfo | None:
        """The current version's record."""
        version = self.current_version(model)
        return None if version is None else self.get(model, version)

    def get(self, model: str, version: int) -> VersionInfo | None:
        """One version's record."""
        raw = self.client.hget(self._key(model, "versions"), str(version))
        return None if raw is None else VersionInfo.model_validate_json(raw)

    def versions(self, model: str) -> list[VersionInfo]:
        """Every recorded version, oldest first."""
        raw = self.client.hgetall(self._key(model, "versions"))
        infos = [VersionInfo.model_validate_json(v) for v in raw.values()]
        return sorted(infos, key=lambda i: i.version)

    def history(self, model: str) -> list[HistoryEntry]:
        """What served when, oldest first."""
        raw = self.client.lrange(self._key(model, "history"), 0, -1)
        return [HistoryEntry.model_validate_json(r) for r in raw]

    def record_rejected(self, info: VersionInfo) -> None:
        """Record a candidate the gate refused (it never serves)."""
        entry = HistoryEntry(
            at_ms=now_ms(),
            event="rejected",
            version=info.version,
            previous=self.current_version(info.model),
            reason=info.detail or info.reason,
            metrics=info.metrics,
        )
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self._key(info.model, "versions"), str(info.version), info.model_dump_json())
        pipe.rpush(self._key(info.model, "history"), entry.model_dump_json())
        pipe.execute()

    def publish(self, info: VersionInfo) -> ModelUpdate:
        """Make ``info`` current; returns the ``ModelUpdate`` the caller must produce."""
        if info.status != "published":
            raise RegistryError("only a published version can become current")
        previous = self.current_version(info.model)
        entry = HistoryEntry(
            at_ms=now_ms(),
            event="published",
            version=info.version,
            previous=previous,
            reason=info.reason,
            metrics=info.metrics,
        )
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self._key(info.model, "versions"), str(info.version), info.model_dump_json())
        pipe.set(self._key(info.model, "current"), str(info.version))
        pipe.rpush(self._key(info.model, "history"), entry.model_dump_json())
        pipe.execute()
        return _update(info, info.reason, previous)

    def rollback(self, model: str, version: int, reason: str = "manual rollback") -> ModelUpdate:
        """Point ``current`` back at an earlier published version; itself a published update."""
        info = self.get(model, version)
        if info is None or info.status != "published":
            known = [i.version for i in self.versions(model) if i.status == "published"]
            raise RegistryError(f"version {version} of {model!r} was never published; {known}")
        previous = self.current_version(model)
        if previous == version:
            raise RegistryError(f"version {version} is already current")
        entry = HistoryEntry(
            at_ms=now_ms(),
            event="rollback",
            version=version,
            previous=previous,
            reason=reason,
            metrics=info.metrics,
        )
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key(model, "current"), str(version))
        pipe.rpush(self._key(model, "history"), entry.model_dump_json())
        pipe.execute()
        return _update(info, "rollback", previous)


def _update(info: VersionInfo, reason: UpdateReason, previous: int | None) -> ModelUpdate:
    return ModelUpdate(
        model=info.model,
        version=info.version,
        uri=info.uri,
        sha256=info.sha256,
        reason=reason,
        metrics=info.metrics,
        timestamp=now_ms(),
        parent_version=previous,
    )
