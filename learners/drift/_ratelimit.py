"""Alert rate limiting: a flapping detector cannot flood the alerts topic."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Admission:
    """Whether an alert may be published, and how many were suppressed before it.

    Attributes
    ----------
    allowed
        Publish the alert.
    suppressed
        Alerts of this key suppressed since the last allowed one (this one included
        when not allowed). Put it in the allowed alert's details.
    """

    allowed: bool
    suppressed: int


class AlertRateLimiter:
    """At most ``max_alerts`` alerts per key (detector) in any sliding ``window_s`` seconds.

    Pure: time comes from ``clock``, so tests inject a fake one.

    Parameters
    ----------
    max_alerts
        Alerts allowed per key within a window.
    window_s
        Length of the sliding window, in seconds.
    clock
        Monotonic clock in seconds.

    Examples
    --------
    >>> now = [0.0]
    >>> limiter = AlertRateLimiter(max_alerts=2, window_s=60.0, clock=lambda: now[0])
    >>> [limiter.admit("error_adwin").allowed for _ in range(4)]
    [True, True, False, False]
    >>> now[0] = 61.0
    >>> limiter.admit("error_adwin")
    Admission(allowed=True, suppressed=2)
    """

    def __init__(
        self,
        max_alerts: int = 3,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_alerts < 1:
            raise ValueError(f"max_alerts must be >= 1, got {max_alerts}")
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.max_alerts = max_alerts
        self.window_s = window_s
        self.clock = clock
        self._sent: dict[str, collections.deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._total: dict[str, int] = {}

    def admit(self, key: str) -> Admission:
        """Decide on one alert of ``key`` now."""
        now = self.clock()
        sent = self._sent.setdefault(key, collections.deque())
        while sent and now - sent[0] >= self.window_s:
            sent.popleft()
        if len(sent) < self.max_alerts:
            sent.append(now)
            return Admission(True, self._pending.pop(key, 0))
        self._pending[key] = self._pending.get(key, 0) + 1
        self._total[key] = self._total.get(key, 0) + 1
        return Admission(False, self._pending[key])

    def pending(self) -> dict[str, int]:
        """Suppressed alerts per key not yet reported by an allowed alert."""
        return dict(self._pending)

    def suppressed_total(self) -> dict[str, int]:
        """All alerts suppressed per key since construction."""
        return dict(self._total)
