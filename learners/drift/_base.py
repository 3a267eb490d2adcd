"""The base class of every drift detector streamtune runs, in the style of River's.

River's detectors (``river.base.DriftDetector``) expose ``update(x)`` and read-only
``drift_detected`` / ``warning_detected`` flags. The wrappers here keep that surface
and add what a production monitor needs on top of each River detector: a warm-up
(no detection before ``warm_up`` observations), a rejection of non-finite input
(one NaN would poison a River detector's statistics for good), and a warning level
for the detectors that have none natively.
"""

from __future__ import annotations

import abc
import math


class SignalDetector(abc.ABC):
    """A drift detector on one scalar signal, with a warning and a drift level.

    Subclasses implement :meth:`_step`, which feeds the wrapped River detector(s)
    and returns the raw ``(warning, drift)`` flags; :meth:`update` applies the
    warm-up on top. Constructor arguments are stored unchanged under their names.

    Parameters
    ----------
    warm_up
        Number of observations before any warning or drift may be reported. The
        wrapped detectors still learn from these observations.
    """

    def __init__(self, warm_up: int = 30) -> None:
        if warm_up < 0:
            raise ValueError(f"warm_up must be >= 0, got {warm_up}")
        self.warm_up = warm_up
        self._n = 0
        self._drift_detected = False
        self._warning_detected = False

    def _reset(self) -> None:
        """Reset the detector's state, warm-up included."""
        self._n = 0
        self._drift_detected = False
        self._warning_detected = False

    @property
    def drift_detected(self) -> bool:
        """Whether a drift was detected by the last update."""
        return self._drift_detected

    @property
    def warning_detected(self) -> bool:
        """Whether the last update is in the warning zone (never together with a drift)."""
        return self._warning_detected

    @property
    def n_observations(self) -> int:
        """Observations seen since construction or the last reset."""
        return self._n

    def update(self, x: float) -> None:
        """Update the detector with one observation.

        Parameters
        ----------
        x
            The signal's value; must be finite.

        Raises
        ------
        ValueError
            If ``x`` is not finite, or not acceptable to the detector (e.g. not 0/1
            for a binary detector). The detector's state is then unchanged.
        """
        warning, drift = self._step(self.check(x))
        self._n += 1
        armed = self._n > self.warm_up
        self._drift_detected = armed and drift
        self._warning_detected = armed and warning and not drift

    def check(self, x: float) -> float:
        """Return ``x`` as a float if it is a valid observation, else raise ``ValueError``.

        Lets a caller validate one value for several detectors before updating any.
        """
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"observation must be finite, got {x}")
        self._check(x)
        return x

    def _check(self, x: float) -> None:  # noqa: B027 - optional hook, not abstract
        """Raise ``ValueError`` if ``x`` is not a valid input; every finite value is by default."""

    @abc.abstractmethod
    def _step(self, x: float) -> tuple[bool, bool]:
        """Feed the wrapped detector(s); return the raw ``(warning, drift)`` flags."""
