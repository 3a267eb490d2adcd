"""The run report: a stream shorter than the window around a change still reports."""

from __future__ import annotations

from pathlib import Path

from streams._report import Outcome, RunReport, write_report


def _outcomes(n: int) -> list[Outcome]:
    return [
        Outcome(i, f"e{i}", "a" if i % 3 else "b", i * 0.1, "a", 0, i * 0.1 + 0.05)
        for i in range(n)
    ]


def test_change_before_a_full_window_has_no_recovery_instead_of_failing(tmp_path: Path) -> None:
    report = RunReport("t", "s", _outcomes(60), change_points=(30,), window=100)
    summary = write_report(report, tmp_path)
    assert summary["events"] == 60
    assert summary["recovery_examples"] == {"30": None}
    assert (tmp_path / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_recovery_is_measured_when_the_window_fits() -> None:
    report = RunReport("t", "s", _outcomes(60), change_points=(30,), window=10)
    assert report.summary()["recovery_examples"]["30"] is not None
