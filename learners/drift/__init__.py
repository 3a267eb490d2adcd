"""Drift monitors wrapping River detectors, and alert rate limiting.

Pure logic: no Kafka, no Redis, no torch. Signals per model: the 0/1 error of each
prediction once its feedback arrives (ADWIN; DDM as an alternative), the per-example
training loss (Page-Hinkley), and label-free input statistics, prediction confidence
and embedding distance to a reference window (KSWIN).
"""

from learners.drift._adwin import AdwinDetector
from learners.drift._base import SignalDetector
from learners.drift._config import (
    DEFAULT_DETECTORS,
    SIGNALS,
    DetectorSpec,
    DriftConfig,
    Signal,
    config_for,
)
from learners.drift._ddm import DdmDetector
from learners.drift._event import DriftEvent, Level
from learners.drift._kswin import KswinDetector
from learners.drift._monitor import DriftMonitor
from learners.drift._page_hinkley import PageHinkleyDetector
from learners.drift._ratelimit import Admission, AlertRateLimiter
from learners.drift._reference import ReferenceDistance
from learners.drift._registry import DETECTORS, UnknownDetectorError, make_detector

__all__ = [
    "DEFAULT_DETECTORS",
    "DETECTORS",
    "SIGNALS",
    "Admission",
    "AdwinDetector",
    "AlertRateLimiter",
    "DdmDetector",
    "DetectorSpec",
    "DriftConfig",
    "DriftEvent",
    "DriftMonitor",
    "KswinDetector",
    "Level",
    "PageHinkleyDetector",
    "ReferenceDistance",
    "Signal",
    "SignalDetector",
    "UnknownDetectorError",
    "config_for",
    "make_detector",
]
