"""Named crash points for fault injection: the process SIGKILLs itself at a chosen point.

Testing only. ``Settings.crash_point`` (``STREAMTUNE_CRASH_POINT``) names one point, and
optionally which pass kills: ``"published"`` is the first time the code reaches
``crash_point("published")``, ``"published:2"`` the second. Unset (the default), every
crash point is a no-op. The kill is real (``SIGKILL``: no ``finally``, no flush, no
shutdown hook), so a fault test sees exactly what a power cut at that line would leave.

Points in the worker:

- ``checkpoint_writing``: half of a checkpoint's tensors written to its temporary
  directory, before the rest, the fsync and the rename;
- ``checkpoint_written``: a checkpoint renamed into place, before its dedup marks, the
  acknowledgements of its records and any publication;
- ``published``: a version published (registry and ``ModelUpdate``), before the consumer
  group commits the offsets of the records it trained.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from dataclasses import dataclass

#: Every crash point the code reaches; a spec naming another is a typo.
CRASH_POINTS = ("checkpoint_writing", "checkpoint_written", "published")

_SPEC = re.compile(r"^(?P<name>[a-z_]+)(?::(?P<count>[1-9]\d*))?$")


@dataclass(frozen=True, slots=True)
class CrashSpec:
    """Kill at the ``count``-th pass through crash point ``name``."""

    name: str
    count: int = 1

    @classmethod
    def parse(cls, spec: str) -> CrashSpec:
        """Parse ``"name"`` or ``"name:count"``.

        Examples
        --------
        >>> CrashSpec.parse("published:2")
        CrashSpec(name='published', count=2)
        >>> CrashSpec.parse("publshed")
        Traceback (most recent call last):
        ...
        ValueError: unknown crash point 'publshed'; valid: checkpoint_writing, ...
        """
        match = _SPEC.match(spec.strip())
        if match is None:
            raise ValueError(f"crash point {spec!r}: want NAME or NAME:COUNT (COUNT >= 1)")
        name = match.group("name")
        if name not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {name!r}; valid: {', '.join(CRASH_POINTS)}")
        return cls(name, int(match.group("count") or 1))


class CrashPoints:
    """Counts passes through named points; :meth:`reached` is true at the chosen one.

    Examples
    --------
    >>> points = CrashPoints(CrashSpec("published", 2))
    >>> [points.reached("published"), points.reached("checkpoint_written"),
    ...  points.reached("published"), points.reached("published")]
    [False, False, True, False]
    """

    def __init__(self, spec: CrashSpec | None) -> None:
        self.spec = spec
        self._passes = 0
        self._lock = threading.Lock()  # points are reached from the loop and the train thread

    def reached(self, name: str) -> bool:
        """Count one pass through ``name``; whether this is the pass that kills."""
        if self.spec is None or name != self.spec.name:
            return False
        with self._lock:
            self._passes += 1
            return self._passes == self.spec.count


_points = CrashPoints(None)


def configure_crash_point(spec: str | None) -> None:
    """Arm one crash point for this process (``None``: none); called once at start-up."""
    global _points
    _points = CrashPoints(None if spec is None else CrashSpec.parse(spec))


def crash_point(name: str) -> None:
    """SIGKILL this process if ``name`` is the armed crash point at its chosen pass."""
    if name not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {name!r}; valid: {', '.join(CRASH_POINTS)}")
    if _points.reached(name):
        os.kill(os.getpid(), signal.SIGKILL)
