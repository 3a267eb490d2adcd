"""A detection by one detector, and its conversion to the wire's ``DriftAlert``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from learners.drift._config import Signal
from schemas import DriftAlert, now_ms

Level = Literal["warning", "drift"]


@dataclass(frozen=True)
class DriftEvent:
    """One warning or drift reported by a detector of a :class:`DriftMonitor`.

    Attributes
    ----------
    detector
        The detector's configured name.
    signal
        The signal it watches.
    level
        ``"warning"`` or ``"drift"``.
    value
        The signal's mean over the monitor's recent ``value_window`` observations.
    index
        0-based position, in this signal's stream, of the observation that triggered it.

    Examples
    --------
    >>> event = DriftEvent("error_adwin", "error", "drift", 0.42, 1029)
    >>> event.examples_seen
    1030
    >>> alert = event.to_alert(model="default", model_version=3, examples_seen=5120,
    ...                        action="candidate", timestamp=0)
    >>> alert.detector, alert.details
    ('error_adwin', {'level': 'drift', 'index': 1029})
    """

    detector: str
    signal: Signal
    level: Level
    value: float
    index: int

    @property
    def examples_seen(self) -> int:
        """Observations of this signal up to and including the triggering one."""
        return self.index + 1

    def to_alert(
        self,
        *,
        model: str,
        model_version: int,
        examples_seen: int,
        action: str,
        timestamp: int | None = None,
        details: dict[str, str | int | float | bool | None] | None = None,
    ) -> DriftAlert:
        """The ``DriftAlert`` to publish for this event.

        ``examples_seen`` is the model's (the learner's count), not the signal's.
        ``level`` and ``index`` go into ``details``, with any extra ``details`` (for
        example the rate limiter's suppressed count).
        """
        merged: dict[str, str | int | float | bool | None] = {
            "level": self.level,
            "index": self.index,
        }
        merged.update(details or {})
        return DriftAlert(
            model=model,
            model_version=model_version,
            detector=self.detector,
            signal=self.signal,
            value=self.value,
            examples_seen=examples_seen,
            timestamp=now_ms() if timestamp is None else timestamp,
            action=action,
            details=merged,
        )
