"""Golden tests: seeded synthetic streams give exact detection indices at the defaults.

Each detector runs at its default configuration. A change happens at index
``CHANGE``; the stationary streams are 10,000 observations long and must give no
drift at all.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from learners.drift import DetectorSpec, DriftConfig, DriftMonitor, Signal

CHANGE = 1000
N_STATIONARY = 10_000


def _rng() -> np.random.Generator:
    return np.random.default_rng(42)


def error_stream(after: float, n_after: int = 1000) -> NDArray[np.float64]:
    """0/1 errors at rate 0.1, then at rate ``after`` from index CHANGE."""
    rng = _rng()
    before = rng.binomial(1, 0.1, CHANGE)
    return np.concatenate([before, rng.binomial(1, after, n_after)]).astype(np.float64)


def loss_stream(n_after: int = 1000) -> NDArray[np.float64]:
    """Losses from N(0.5, 0.25) clipped at 0, then a mean shift to 1.0 from CHANGE."""
    rng = _rng()
    before = rng.normal(0.5, 0.25, CHANGE)
    return np.clip(np.concatenate([before, rng.normal(1.0, 0.25, n_after)]), 0.0, None)


def confidence_stream(n_after: int = 1000) -> NDArray[np.float64]:
    """Prediction confidences from Beta(8, 2), then Beta(4, 4) from CHANGE."""
    rng = _rng()
    return np.concatenate([rng.beta(8, 2, CHANGE), rng.beta(4, 4, n_after)])


def embedding_stream(n_before: int, n_after: int) -> NDArray[np.float64]:
    """16-d embeddings around one topic centre, then around a new topic."""
    rng = _rng()
    centre = rng.normal(size=16)
    moved = rng.normal(size=16)
    before = centre + rng.normal(scale=0.8, size=(n_before, 16))
    after = moved + rng.normal(scale=0.8, size=(n_after, 16))
    return np.concatenate([before, after])


def monitor_for(kind: str, signal: Signal) -> DriftMonitor:
    spec = DetectorSpec(name=kind, signal=signal, kind=kind)
    return DriftMonitor(DriftConfig(detectors=(spec,)))


def detections(
    monitor: DriftMonitor, signal: Signal, xs: NDArray[np.float64]
) -> list[tuple[str, int]]:
    return [(e.level, e.index) for x in xs for e in monitor.update(signal, float(x))]


def drifts(events: list[tuple[str, int]]) -> list[int]:
    return [i for level, i in events if level == "drift"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("adwin", [("warning", 1015), ("drift", 1027)]),
        ("ddm", [("warning", 1040), ("drift", 1101)]),
    ],
)
def test_error_jump_golden(kind: str, expected: list[tuple[str, int]]) -> None:
    assert detections(monitor_for(kind, "error"), "error", error_stream(0.6)) == expected


def test_default_error_detector_meets_the_50_example_target() -> None:
    """The system target: a DriftAlert within 50 labelled examples of an abrupt change."""
    monitor = DriftMonitor()
    first = next(
        e.index
        for x in error_stream(0.6)
        for e in monitor.update_error(bool(x))
        if e.level == "drift"
    )
    delay = first - CHANGE
    assert 0 <= delay <= 50
    assert delay == 27


def test_loss_shift_golden() -> None:
    assert detections(monitor_for("page_hinkley", "loss"), "loss", loss_stream()) == [
        ("warning", 1022),
        ("drift", 1049),
    ]


def test_confidence_shift_golden() -> None:
    monitor = monitor_for("kswin", "confidence")
    # KSWIN's warning twin (alpha 1e-3) also fires once on the stationary part.
    assert detections(monitor, "confidence", confidence_stream()) == [
        ("warning", 268),
        ("warning", 1020),
        ("drift", 1021),
    ]


def test_embedding_shift_golden() -> None:
    monitor = DriftMonitor()  # the default config runs KSWIN on embedding distances
    events = [
        (e.detector, e.level, e.index)
        for x in embedding_stream(CHANGE + 200, 1000)
        for e in monitor.update_embedding(x)
    ]
    # The first 200 embeddings form the reference, so index 1000 is the change.
    assert events == [
        ("embedding_kswin", "warning", 740),
        ("embedding_kswin", "warning", 1012),
        ("embedding_kswin", "drift", 1021),
    ]


@pytest.mark.parametrize(
    ("kind", "signal", "stream"),
    [
        ("adwin", "error", lambda: _rng().binomial(1, 0.1, N_STATIONARY)),
        ("adwin", "error", lambda: _rng().binomial(1, 0.3, N_STATIONARY)),
        ("ddm", "error", lambda: _rng().binomial(1, 0.1, N_STATIONARY)),
        ("ddm", "error", lambda: _rng().binomial(1, 0.3, N_STATIONARY)),
        ("page_hinkley", "loss", lambda: np.clip(_rng().normal(0.5, 0.25, N_STATIONARY), 0, None)),
        ("page_hinkley", "loss", lambda: _rng().exponential(0.5, N_STATIONARY)),
        ("kswin", "confidence", lambda: _rng().beta(8, 2, N_STATIONARY)),
    ],
    ids=["adwin-0.1", "adwin-0.3", "ddm-0.1", "ddm-0.3", "ph-normal", "ph-exp", "kswin-conf"],
)
def test_stationary_stream_gives_no_drift(kind: str, signal: Signal, stream: object) -> None:
    assert callable(stream)
    xs = np.asarray(stream(), dtype=np.float64)
    assert len(xs) == N_STATIONARY
    assert drifts(detections(monitor_for(kind, signal), signal, xs)) == []


def test_stationary_embeddings_give_no_drift() -> None:
    monitor = DriftMonitor()
    xs = embedding_stream(N_STATIONARY + 200, 0)
    events = [e for x in xs for e in monitor.update_embedding(x) if e.level == "drift"]
    assert monitor.observations("embedding_distance") == N_STATIONARY
    assert events == []
