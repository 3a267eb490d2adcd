"""Unit tests of the drift detectors, the monitor, the registry and the config."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydantic import ValidationError

import learners.drift as drift
from learners.drift import (
    DETECTORS,
    AdwinDetector,
    DdmDetector,
    DetectorSpec,
    DriftConfig,
    DriftEvent,
    DriftMonitor,
    KswinDetector,
    PageHinkleyDetector,
    ReferenceDistance,
    SignalDetector,
    UnknownDetectorError,
    make_detector,
)


def test_exports_are_importable() -> None:
    for name in drift.__all__:
        assert hasattr(drift, name), name


def test_registry_is_a_plain_dict_of_every_detector() -> None:
    assert {
        "adwin": AdwinDetector,
        "ddm": DdmDetector,
        "kswin": KswinDetector,
        "page_hinkley": PageHinkleyDetector,
    } == DETECTORS


def test_unknown_detector_lists_valid_names() -> None:
    with pytest.raises(UnknownDetectorError, match="valid: adwin, ddm, kswin, page_hinkley"):
        make_detector("cusum")


def test_constructor_arguments_are_stored_unchanged() -> None:
    detector = make_detector("page_hinkley", {"threshold": 30.0, "warm_up": 7, "mode": "both"})
    assert isinstance(detector, PageHinkleyDetector)
    assert (detector.threshold, detector.warm_up, detector.mode) == (30.0, 7, "both")


@pytest.mark.parametrize("kind", sorted(DETECTORS))
def test_flags_are_read_only(kind: str) -> None:
    detector = make_detector(kind)
    with pytest.raises(AttributeError):
        detector.drift_detected = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        detector.warning_detected = True  # type: ignore[misc]


@pytest.mark.parametrize("kind", sorted(DETECTORS))
def test_non_finite_input_is_rejected_and_state_unchanged(kind: str) -> None:
    detector = make_detector(kind)
    detector.update(0.0)
    with pytest.raises(ValueError, match="finite"):
        detector.update(float("nan"))
    assert detector.n_observations == 1


def test_ddm_rejects_non_binary_input() -> None:
    with pytest.raises(ValueError, match="0/1"):
        DdmDetector().update(0.5)


def _hits(detector: SignalDetector, xs: list[float]) -> list[int]:
    found = []
    for i, x in enumerate(xs):
        detector.update(x)
        if detector.drift_detected:
            found.append(i)
    return found


def _abrupt() -> list[float]:
    return [0.0] * 200 + [1.0] * 100


def test_warm_up_suppresses_detection_until_n_observations() -> None:
    # With no warm-up ADWIN flags the jump at 200-something; a warm-up past it hides it.
    early = AdwinDetector(warm_up=0)
    hits = _hits(early, _abrupt())
    assert hits and hits[0] < 250
    late = AdwinDetector(warm_up=290)
    assert not _hits(late, _abrupt())


def test_reset_restarts_the_warm_up() -> None:
    detector = AdwinDetector(warm_up=5)
    for _ in range(10):
        detector.update(0.0)
    detector._reset()
    assert detector.n_observations == 0


def test_adwin_mode_up_ignores_a_decreasing_error() -> None:
    falling = [1.0] * 200 + [0.0] * 200
    up, both = AdwinDetector(), AdwinDetector(mode="both")
    up_hits = _hits(up, falling)
    both_hits = _hits(both, falling)
    assert up_hits == []
    assert both_hits


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="warning_delta"):
        AdwinDetector(delta=0.1, warning_delta=0.01)
    with pytest.raises(ValueError, match="warning_threshold"):
        PageHinkleyDetector(threshold=5.0, warning_threshold=10.0)
    with pytest.raises(ValueError, match="warning_alpha"):
        KswinDetector(alpha=0.1, warning_alpha=0.01)
    with pytest.raises(ValueError, match="warm_up"):
        AdwinDetector(warm_up=-1)


def test_config_rejects_bad_kind_params_and_duplicates() -> None:
    with pytest.raises(ValidationError, match="valid: adwin"):
        DetectorSpec(name="x", signal="error", kind="nope")
    with pytest.raises(ValidationError, match="unexpected keyword"):
        DetectorSpec(name="x", signal="error", kind="adwin", params={"threshold": 1.0})
    with pytest.raises(ValidationError, match="signal"):
        DetectorSpec(name="x", signal="latency", kind="adwin")  # type: ignore[arg-type]
    spec = DetectorSpec(name="x", signal="error", kind="adwin")
    with pytest.raises(ValidationError, match="duplicate detector names"):
        DriftConfig(detectors=(spec, spec))


def test_config_is_frozen() -> None:
    config = DriftConfig()
    with pytest.raises(ValidationError):
        config.value_window = 3


def test_monitor_rejects_unknown_signal_and_bad_values_before_updating() -> None:
    config = DriftConfig(
        detectors=(
            DetectorSpec(name="a", signal="error", kind="adwin"),
            DetectorSpec(name="d", signal="error", kind="ddm"),
        )
    )
    monitor = DriftMonitor(config)
    with pytest.raises(ValueError, match="valid: error, loss"):
        monitor.update("latency", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0/1"):
        monitor.update("error", 0.5)
    assert monitor.observations("error") == 0
    assert monitor.detectors["a"].n_observations == 0


def test_monitor_runs_two_detectors_on_one_signal_and_warns_once_per_zone() -> None:
    config = DriftConfig(
        detectors=(
            DetectorSpec(name="a", signal="error", kind="adwin"),
            DetectorSpec(name="d", signal="error", kind="ddm"),
        ),
        value_window=10,
    )
    monitor = DriftMonitor(config)
    rng = np.random.default_rng(0)
    errors = np.concatenate([rng.binomial(1, 0.1, 500), rng.binomial(1, 0.7, 300)])
    events = [e for x in errors for e in monitor.update_error(bool(x))]
    assert {e.detector for e in events if e.level == "drift"} == {"a", "d"}
    for e in events:
        assert isinstance(e, DriftEvent)
        assert e.signal == "error"
        assert 0.0 <= e.value <= 1.0
    # A warning is an entry into the zone: never two in a row without leaving it.
    ddm = [(e.level, e.index) for e in events if e.detector == "d"]
    assert all(
        not (a[0] == b[0] == "warning" and b[1] == a[1] + 1) for a, b in itertools.pairwise(ddm)
    )


def test_event_value_is_recent_mean_and_index_counts_the_signal() -> None:
    monitor = DriftMonitor(DriftConfig(value_window=100))
    events = [e for i in range(400) for e in monitor.update_error(i >= 200)]
    drift_event = next(e for e in events if e.level == "drift")
    k = drift_event.index - 200 + 1  # errors among the last min(100, ...) observations
    assert drift_event.value == pytest.approx(min(k, 100) / 100)
    assert drift_event.examples_seen == drift_event.index + 1


def test_monitor_reset_keeps_indices_and_restarts_detectors() -> None:
    monitor = DriftMonitor()
    for _ in range(50):
        monitor.update("loss", 0.5)
    monitor.reset()
    assert monitor.observations("loss") == 50
    assert all(d.n_observations == 0 for d in monitor.detectors.values())


def test_reference_distance_checks_shape_and_values() -> None:
    ref = ReferenceDistance(reference_size=1)
    assert ref.distance([1.0, 0.0]) is None
    assert ref.ready
    with pytest.raises(ValueError, match="size"):
        ref.distance([1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="finite non-zero"):
        ref.distance([0.0, 0.0])
    assert ref.distance([-1.0, 0.0]) == pytest.approx(2.0)


def test_event_to_alert_carries_level_index_and_details() -> None:
    event = DriftEvent("error_adwin", "error", "warning", 0.3, 41)
    alert = event.to_alert(
        model="m",
        model_version=2,
        examples_seen=900,
        action="none",
        timestamp=5,
        details={"suppressed": 3},
    )
    assert alert.details == {"level": "warning", "index": 41, "suppressed": 3}
    assert (alert.value, alert.examples_seen, alert.timestamp) == (0.3, 900, 5)


def test_signal_detector_is_abstract() -> None:
    with pytest.raises(TypeError):
        SignalDetector()  # type: ignore[abstract]
