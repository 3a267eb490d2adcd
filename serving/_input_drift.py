"""Label-free drift on serving's inputs: prediction confidence and embedding distance.

This catches a change before any feedback arrives. KSWIN costs a few milliseconds per
observation, so one prediction in ``input_drift_sample_every`` is observed; a sample keeps
the distribution the detectors test, it only thins it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from learners.drift import AlertRateLimiter, DriftEvent, DriftMonitor, Signal, config_for
from schemas import DriftAlert, Settings, now_ms
from serving._metrics import Metrics
from serving._predictor import BatchOutput

log = logging.getLogger(__name__)

INPUT_SIGNALS: tuple[Signal, ...] = ("confidence", "embedding_distance")


class InputDriftWatch:
    """Feeds sampled predictions to KSWIN detectors and emits rate-limited alerts."""

    def __init__(
        self,
        settings: Settings,
        emit: Callable[[DriftAlert], None],
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.emit = emit
        self.metrics = metrics
        self.monitor = DriftMonitor(config_for(settings.drift_config, INPUT_SIGNALS))
        self.limiter = AlertRateLimiter(
            settings.alert_max_per_window, settings.alert_window_s, clock
        )
        self.every = settings.input_drift_sample_every
        self.seen = 0
        self.events: list[DriftEvent] = []

    def observe(self, out: BatchOutput, version: int) -> list[DriftEvent]:
        """Observe a batch's sampled predictions; returns the detections it caused."""
        events: list[DriftEvent] = []
        for i in range(len(out.labels)):
            self.seen += 1
            if self.seen % self.every:
                continue
            events += self.monitor.update("confidence", float(np.max(out.probabilities[i])))
            events += self.monitor.update_embedding(out.embeddings[i])
        for event in events:
            self._alert(event, version)
        self.events += events
        return events

    def _alert(self, event: DriftEvent, version: int) -> None:
        if self.metrics is not None:
            self.metrics.drift_detections.labels(detector=event.detector, signal=event.signal).inc()
        admission = self.limiter.admit(f"{event.detector}:{event.level}")
        if not admission.allowed:
            return
        details: dict[str, str | int | float | bool | None] = {"sampled_every": self.every}
        if admission.suppressed:
            details["suppressed_since_last"] = admission.suppressed
        alert = event.to_alert(
            model=self.settings.model_name,
            model_version=version,
            examples_seen=self.seen,
            action="alert_only" if event.level == "drift" else "watch",
            timestamp=now_ms(),
            details=details,
        )
        log.warning("input drift %s (%s) value=%.3f", alert.detector, event.level, alert.value)
        self.emit(alert)
