"""``streamtune up``: starts broker and serving, prints the address, stops cleanly on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import IO

import pytest

from schemas import Prediction, Settings, TextEvent
from streams import make_producer
from streams._process import port_open, python_env
from tests.integration.helpers import TopicReader

pytestmark = pytest.mark.integration


def _lines(stream: IO[str], out: queue.Queue[str]) -> None:
    for line in stream:
        out.put(line)


def _wait_line(q: queue.Queue[str], seen: list[str], pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        for line in seen:
            if m := re.search(pattern, line):
                return m
        if time.monotonic() >= deadline:
            raise AssertionError(f"no line matching {pattern!r} within {timeout}s: {seen}")
        with contextlib.suppress(queue.Empty):
            seen.append(q.get(timeout=max(0.01, deadline - time.monotonic())))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes, but it is not our child here, so check /proc.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_up_serves_and_sigterm_leaves_no_process(settings: Settings) -> None:
    env = python_env(settings.to_env())
    env.pop("STREAMTUNE_BOOTSTRAP_SERVERS", None)  # up starts its own broker
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "up", "--serving", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        seen: list[str] = []
        bootstrap = _wait_line(lines, seen, r"STREAMTUNE_BOOTSTRAP_SERVERS=(\S+)", 60).group(1)
        serve_pid = int(_wait_line(lines, seen, r"serve-0 pid (\d+)", 10).group(1))
        s = settings.with_overrides(bootstrap_servers=bootstrap)
        producer = make_producer(s)
        event = TextEvent(event_id="up-1", text="The match ended in a late winner")
        producer.send(s.topics.texts, key=b"up-1", value=event.to_bytes()).get(timeout=30)
        producer.close()
        reader = TopicReader(s, s.topics.predictions)
        records = reader.until(lambda recs: len(recs) >= 1, timeout=120)
        reader.close()
        assert Prediction.model_validate_json(records[0].value).event_id == "up-1"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        assert proc.stdout is not None
        proc.stdout.close()
    assert code == 0
    host, port = bootstrap.rsplit(":", 1)
    assert not port_open(host, int(port)), "the broker must be gone"
    assert not _alive(serve_pid), "the serving child must be gone"
