"""When to make a candidate checkpoint: after drift, on a schedule, or on request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

CandidateReason = Literal["manual", "drift", "schedule"]


class PublicationPolicy:
    """Decides when a candidate checkpoint is due, and why.

    Feed it :meth:`on_examples` (trained examples), :meth:`on_drift` (a drift
    detection) and :meth:`request` (a manual trigger); :meth:`poll` returns the
    reason when a candidate is due, and then none until :meth:`resolve` reports the
    gate's outcome, so only one candidate is in flight. Priority: manual, then
    drift, then schedule.

    - drift: ``post_drift_examples`` examples after the detection, so the learner
      has seen some of the new concept. If the gate rejects a drift candidate, the
      drift stays armed for another ``post_drift_examples``, up to ``drift_retries``
      times.
    - schedule: ``every_examples`` examples, or ``every_seconds`` seconds with at
      least one new example, since the last candidate. ``None`` disables either.

    Examples
    --------
    >>> policy = PublicationPolicy(post_drift_examples=10, every_examples=None,
    ...                            every_seconds=None)
    >>> policy.on_drift(); policy.on_examples(9); policy.poll() is None
    True
    >>> policy.on_examples(1); policy.poll()
    'drift'
    """

    def __init__(
        self,
        post_drift_examples: int = 50,
        every_examples: int | None = 1000,
        every_seconds: float | None = 300.0,
        drift_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if post_drift_examples < 0 or drift_retries < 0:
            raise ValueError("post_drift_examples and drift_retries must be >= 0")
        if every_examples is not None and every_examples < 1:
            raise ValueError(f"every_examples must be >= 1, got {every_examples}")
        if every_seconds is not None and not every_seconds > 0:
            raise ValueError(f"every_seconds must be > 0, got {every_seconds}")
        self.post_drift_examples = post_drift_examples
        self.every_examples = every_examples
        self.every_seconds = every_seconds
        self.drift_retries = drift_retries
        self.clock = clock
        self._since_candidate = 0
        self._last_candidate = clock()
        self._since_drift: int | None = None
        self._retries_left = drift_retries
        self._manual = False
        self._pending: CandidateReason | None = None

    @property
    def pending(self) -> CandidateReason | None:
        """The reason of the candidate in flight, if any."""
        return self._pending

    def on_examples(self, n: int = 1) -> None:
        """Count ``n`` newly trained examples."""
        self._since_candidate += n
        if self._since_drift is not None:
            self._since_drift += n

    def on_drift(self) -> None:
        """A drift was detected: a candidate is due after ``post_drift_examples``."""
        self._since_drift = 0
        self._retries_left = self.drift_retries

    def request(self) -> None:
        """A manual trigger: a candidate is due at the next :meth:`poll`."""
        self._manual = True

    def poll(self) -> CandidateReason | None:
        """The reason a candidate is due now, or ``None``; starts the candidate."""
        if self._pending is not None:
            return None
        reason = self._due()
        if reason is not None:
            self._pending = reason
            self._since_candidate = 0
            self._last_candidate = self.clock()
            if reason == "manual":
                self._manual = False
        return reason

    def _due(self) -> CandidateReason | None:
        if self._manual:
            return "manual"
        if self._since_drift is not None and self._since_drift >= self.post_drift_examples:
            return "drift"
        if self.every_examples is not None and self._since_candidate >= self.every_examples:
            return "schedule"
        if (
            self.every_seconds is not None
            and self._since_candidate > 0
            and self.clock() - self._last_candidate >= self.every_seconds
        ):
            return "schedule"
        return None

    def resolve(self, accepted: bool) -> None:
        """Report the gate's outcome for the candidate in flight."""
        if self._pending == "drift" or self._since_drift is not None:
            if accepted or self._retries_left == 0:
                self._since_drift = None
            elif self._pending == "drift":
                self._retries_left -= 1
                self._since_drift = 0
        self._pending = None
