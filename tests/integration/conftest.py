"""Integration fixtures: the real embedded broker (Tansu) and a real Redis over loopback.

Each test gets its own topic prefix, consumer groups, Redis key prefix and artifact dir,
so tests never share state; Redis keys are deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import Settings
from streams import EmbeddedBroker, EmbeddedRedis, redis_answers
from streams._process import python_env, spawn, stop
from tests.integration.helpers import clear_redis, isolated_settings

#: The machine's Redis; tests use their own key prefix there and clean up.
DEFAULT_TEST_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded broker for the session (topics are unique per test)."""
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The machine's Redis when it answers, else an embedded one for the session."""
    url = os.environ.get("ST_TEST_REDIS_URL", DEFAULT_TEST_REDIS)
    if redis_answers(url):
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def settings(broker: EmbeddedBroker, redis_url: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings isolated to this test: topics, groups, Redis prefix, artifacts."""
    s = isolated_settings(broker.bootstrap, redis_url, tmp_path, kind="test")
    yield s
    clear_redis(redis_url, s.redis_prefix)


class Proc:
    """A ``streamtune`` subprocess started by a test."""

    def __init__(self, settings: Settings, command: list[str], log_path: Path) -> None:
        env = python_env(settings.to_env())
        env["HF_HUB_OFFLINE"] = "1"
        self.log_path = log_path
        self.popen: subprocess.Popen[bytes] = spawn(
            [sys.executable, "-m", "streams.cli", *command], env=env, log_path=str(log_path)
        )

    def log(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL."""
        self.popen.kill()
        self.popen.wait(10)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a grace period."""
        return stop(self.popen)


@pytest.fixture
def start_proc(tmp_path: Path) -> Iterator[object]:
    """Factory starting ``streamtune <command>`` subprocesses; all stopped at teardown."""
    procs: list[Proc] = []

    def _start(settings: Settings, *command: str) -> Proc:
        proc = Proc(settings, list(command), tmp_path / f"{command[0]}-{len(procs)}.log")
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        proc.stop()
