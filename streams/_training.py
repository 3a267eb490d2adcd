"""The training thread: one dedicated executor thread owns the model and the learner.

Training a step takes from milliseconds (``head``) to seconds (``full``). Running it on
the event loop would stall the consumer's heartbeats and the group would evict the worker;
so every call that touches the model runs on a single worker thread, in order, and the
loop only awaits its future. One thread, so the model never needs a lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from learners._examples import Example
from learners._learner import StepResult

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where the learner starts: the checkpoint it loaded (``version`` -1 for none)."""

    version: int
    examples_seen: int
    offsets: Mapping[str, int] = field(default_factory=dict)
    parent: int | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


class Trainer(Protocol):
    """What the worker needs from the model owner. Every method runs on the training thread."""

    def resume(self) -> ResumePoint:
        """Load the newest valid checkpoint (or build version 0)."""
        ...

    def learn(self, examples: Sequence[Example]) -> StepResult:
        """One incremental step on deduplicated examples."""
        ...

    def next_version(self) -> int:
        """Return the next checkpoint's version (never reused, even if corrupt)."""
        ...

    def save(
        self,
        version: int,
        parent: int | None,
        examples_seen: int,
        offsets: Mapping[str, int],
        metrics: Mapping[str, float],
        trained_ids: Sequence[str] | None = None,
    ) -> str:
        """Write checkpoint ``version`` durably; returns its location.

        ``trained_ids`` are the event ids first trained into it, recorded in the
        checkpoint (``None``: not recorded).
        """
        ...


class TrainingExecutor:
    """Run a :class:`Trainer`'s calls on one dedicated thread, awaitable from the event loop."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamtune-train")

    async def call(self, fn: Callable[..., R], *args: Any) -> R:
        """Run ``fn(*args)`` on the training thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    async def resume(self) -> ResumePoint:
        """See :meth:`Trainer.resume`."""
        return await self.call(self.trainer.resume)

    async def learn(self, examples: Sequence[Example]) -> StepResult:
        """See :meth:`Trainer.learn`."""
        return await self.call(self.trainer.learn, list(examples))

    async def next_version(self) -> int:
        """See :meth:`Trainer.next_version`."""
        return await self.call(self.trainer.next_version)

    async def save(
        self,
        version: int,
        parent: int | None,
        examples_seen: int,
        offsets: Mapping[str, int],
        metrics: Mapping[str, float],
        trained_ids: Sequence[str] | None = None,
    ) -> str:
        """See :meth:`Trainer.save`."""
        ids = None if trained_ids is None else list(trained_ids)
        return await self.call(
            self.trainer.save, version, parent, examples_seen, dict(offsets), dict(metrics), ids
        )

    def shutdown(self) -> None:
        """Let the running step finish; refuse new ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class CheckpointSchedule:
    """When the next scheduled checkpoint is due: every N new examples or T seconds.

    The clock starts at the first example after a checkpoint, so an idle worker writes
    nothing. A drift detector (a later issue) calls :meth:`request` to force one.

    Examples
    --------
    >>> now = [0.0]
    >>> s = CheckpointSchedule(every_examples=3, every_s=10.0, clock=lambda: now[0])
    >>> s.add(2); s.due()
    False
    >>> s.add(1); s.due()
    True
    >>> s.reset(); now[0] = 5.0; s.add(1); now[0] = 15.0; s.due()
    True
    >>> s.reset(); s.due()
    False
    """

    def __init__(
        self, every_examples: int, every_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_examples = every_examples
        self.every_s = every_s
        self.clock = clock
        self._count = 0
        self._since: float | None = None
        self._requested: str | None = None

    @property
    def count(self) -> int:
        """New examples since the last checkpoint."""
        return self._count

    def add(self, n: int) -> None:
        """Count ``n`` newly trained examples."""
        if n > 0 and self._since is None:
            self._since = self.clock()
        self._count += n

    def request(self, reason: str) -> None:
        """Ask for a checkpoint at the next opportunity (hook for drift-triggered ones)."""
        self._requested = reason

    def due(self) -> bool:
        """Whether a checkpoint should be written now."""
        if self._requested is not None:
            return True
        if self._count >= self.every_examples:
            return True
        return self._since is not None and self.clock() - self._since >= self.every_s

    @property
    def reason(self) -> str:
        """Why the due checkpoint is written: a requested reason, or ``schedule``."""
        return self._requested or "schedule"

    def reset(self) -> None:
        """Start over after a checkpoint was written."""
        self._count = 0
        self._since = None
        self._requested = None
