"""Detector factories by name: a plain dict, and a lookup whose error lists the valid names."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from learners.drift._adwin import AdwinDetector
from learners.drift._base import SignalDetector
from learners.drift._ddm import DdmDetector
from learners.drift._kswin import KswinDetector
from learners.drift._page_hinkley import PageHinkleyDetector

#: Detector kind → factory taking the detector's keyword parameters.
DETECTORS: dict[str, Callable[..., SignalDetector]] = {
    "adwin": AdwinDetector,
    "ddm": DdmDetector,
    "kswin": KswinDetector,
    "page_hinkley": PageHinkleyDetector,
}


class UnknownDetectorError(ValueError):
    """A detector kind that is not in :data:`DETECTORS`."""


def make_detector(kind: str, params: Mapping[str, object] | None = None) -> SignalDetector:
    """Build a detector of a registered kind with keyword parameters.

    Raises
    ------
    UnknownDetectorError
        If ``kind`` is not registered; the message lists the valid kinds.
    TypeError
        If a parameter is not one of the detector's.

    Examples
    --------
    >>> make_detector("adwin", {"delta": 0.001}).delta
    0.001
    >>> try:
    ...     make_detector("adwn")
    ... except UnknownDetectorError as error:
    ...     print(error)
    unknown detector 'adwn'; valid: adwin, ddm, kswin, page_hinkley
    """
    try:
        factory = DETECTORS[kind]
    except KeyError:
        valid = ", ".join(sorted(DETECTORS))
        raise UnknownDetectorError(f"unknown detector {kind!r}; valid: {valid}") from None
    return factory(**dict(params or {}))
