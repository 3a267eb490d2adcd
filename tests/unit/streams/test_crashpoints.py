"""Crash points: parsed strictly, counted per name, and the kill is a real SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from schemas import Settings, SettingsError
from streams._crashpoints import CrashPoints, CrashSpec, configure_crash_point, crash_point


def test_spec_parses_name_and_count() -> None:
    assert CrashSpec.parse("checkpoint_written") == CrashSpec("checkpoint_written", 1)
    assert CrashSpec.parse("published:3") == CrashSpec("published", 3)
    for bad in ("published:0", "published:x", "nope", ""):
        with pytest.raises(ValueError, match="crash point"):
            CrashSpec.parse(bad)


def test_only_the_chosen_pass_of_the_chosen_point_fires() -> None:
    points = CrashPoints(CrashSpec("checkpoint_written", 2))
    hits = [points.reached(n) for n in ("published", "checkpoint_written", "checkpoint_written")]
    assert hits == [False, False, True]
    assert not points.reached("checkpoint_written")  # once only
    assert not CrashPoints(None).reached("published")


def test_unarmed_crash_points_are_no_ops() -> None:
    configure_crash_point(None)
    crash_point("published")
    with pytest.raises(ValueError, match="unknown crash point"):
        crash_point("publshed")


def test_the_setting_is_testing_only_and_off_by_default() -> None:
    assert Settings().crash_point is None
    assert Settings.from_env({"STREAMTUNE_CRASH_POINT": "published:2"}).crash_point == (
        "published:2"
    )
    assert "STREAMTUNE_CRASH_POINT" not in Settings().to_env()
    with pytest.raises(SettingsError):
        Settings.from_env({"STREAMTUNE_CRASH_POINT": "published;rm"})


def test_the_process_is_sigkilled_at_the_chosen_pass() -> None:
    code = (
        "from streams._crashpoints import configure_crash_point, crash_point\n"
        "configure_crash_point('published:2')\n"
        "crash_point('published'); print('first pass survived', flush=True)\n"
        "crash_point('published'); print('second pass survived', flush=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout == "first pass survived\n"
