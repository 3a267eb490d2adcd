"""The per-model drift monitor: observations in, warning and drift events out."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from types import MappingProxyType

from numpy.typing import ArrayLike

from learners.drift._base import SignalDetector
from learners.drift._config import SIGNALS, DriftConfig, Signal
from learners.drift._event import DriftEvent
from learners.drift._reference import ReferenceDistance
from learners.drift._registry import make_detector


class DriftMonitor:
    """Runs the configured detectors of one model on its signals.

    Feed each signal with :meth:`update` (or the helpers :meth:`update_error` and
    :meth:`update_embedding`); each call returns the events it caused. A drift is
    reported on every detection; a warning only when a detector *enters* its
    warning zone, so a detector that stays in the zone (DDM) is reported once.

    Observation indices count from the monitor's construction and survive
    :meth:`reset`, so events of one model stay ordered.

    Parameters
    ----------
    config
        The detectors and their parameters; the defaults if omitted.

    Examples
    --------
    >>> monitor = DriftMonitor()
    >>> events = [e for i in range(300) for e in monitor.update_error(i >= 150 and i % 4 != 0)]
    >>> [(e.detector, e.level, e.index) for e in events]
    [('error_adwin', 'warning', 161), ('error_adwin', 'drift', 166)]
    """

    def __init__(self, config: DriftConfig | None = None) -> None:
        self.config = config if config is not None else DriftConfig()
        self._detectors: dict[str, SignalDetector] = {}
        self._signal_of: dict[str, Signal] = {}
        for spec in self.config.detectors:
            self._detectors[spec.name] = make_detector(spec.kind, spec.params)
            self._signal_of[spec.name] = spec.signal
        self._counts: dict[Signal, int] = dict.fromkeys(SIGNALS, 0)
        self._reference = ReferenceDistance(self.config.reference_size)
        self._reset_windows()

    def _reset_windows(self) -> None:
        window = self.config.value_window
        self._recent = {s: collections.deque[float](maxlen=window) for s in SIGNALS}
        self._warned = dict.fromkeys(self._detectors, False)

    @property
    def detectors(self) -> Mapping[str, SignalDetector]:
        """The detectors by name (read-only view)."""
        return MappingProxyType(self._detectors)

    def observations(self, signal: Signal) -> int:
        """Observations of ``signal`` since construction."""
        return self._counts[self._signal(signal)]

    def reset(self) -> None:
        """Reset every detector and the embedding reference, e.g. when a new version serves."""
        for detector in self._detectors.values():
            detector._reset()
        self._reference.reset()
        self._reset_windows()

    def update(self, signal: Signal, value: float) -> list[DriftEvent]:
        """Feed one observation of ``signal`` to its detectors.

        Raises
        ------
        ValueError
            If ``signal`` is unknown or ``value`` is invalid for one of its detectors
            (not finite; not 0/1 for DDM). No detector is updated then.
        """
        signal = self._signal(signal)
        names = [n for n, s in self._signal_of.items() if s == signal]
        x = float(value)
        for name in names:
            x = self._detectors[name].check(x)
        index = self._counts[signal]
        self._counts[signal] += 1
        recent = self._recent[signal]
        recent.append(x)
        mean = sum(recent) / len(recent)
        events: list[DriftEvent] = []
        for name in names:
            detector = self._detectors[name]
            detector.update(x)
            if detector.drift_detected:
                events.append(DriftEvent(name, signal, "drift", mean, index))
            elif detector.warning_detected and not self._warned[name]:
                events.append(DriftEvent(name, signal, "warning", mean, index))
            self._warned[name] = detector.warning_detected
        return events

    def update_error(self, error: bool) -> list[DriftEvent]:
        """Feed the 0/1 error of one prediction whose feedback arrived (True = wrong)."""
        return self.update("error", 1.0 if error else 0.0)

    def update_embedding(self, embedding: ArrayLike) -> list[DriftEvent]:
        """Feed one input embedding: its distance to the reference window is the signal.

        The first ``reference_size`` embeddings fill the reference and give no
        observation.
        """
        distance = self._reference.distance(embedding)
        return [] if distance is None else self.update("embedding_distance", distance)

    @staticmethod
    def _signal(signal: str) -> Signal:
        for known in SIGNALS:
            if signal == known:
                return known
        raise ValueError(f"unknown signal {signal!r}; valid: {', '.join(SIGNALS)}")
