"""The shell scripts of ops/ run as they should (with a stand-in for kafka-topics.sh)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from schemas import Topics
from tests.unit.ops.conftest import OPS

BASH = shutil.which("bash")


def _fake_kafka_topics(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "calls.log"
    fake = tmp_path / "kafka-topics.sh"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n', encoding="utf-8")
    fake.chmod(0o755)
    return fake, log


@pytest.mark.skipif(BASH is None, reason="bash is needed")
def test_create_topics_makes_the_contract_topics_from_settings(tmp_path: Path) -> None:
    fake, log = _fake_kafka_topics(tmp_path)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KAFKA_TOPICS_BIN": str(fake),
        "STREAMTUNE_BOOTSTRAP_SERVERS": "k1:9092",
        "STREAMTUNE_TOPIC_PREFIX": "acme.",
        "STREAMTUNE_PARTITIONS": "12",
        "STREAMTUNE_REPLICATION_FACTOR": "3",
        "STREAMTUNE_RETENTION_MS": "86400000",
    }
    assert BASH is not None
    subprocess.run([BASH, str(OPS / "kafka" / "create-topics.sh")], env=env, check=True)
    calls = log.read_text("utf-8").splitlines()
    created = [re.search(r"--topic (\S+)", c).group(1) for c in calls]  # type: ignore[union-attr]
    assert created == list(Topics(prefix="acme.").all())
    for call in calls:
        assert "--bootstrap-server k1:9092 --create --if-not-exists" in call
        assert "--partitions 12 --replication-factor 3" in call
        assert call.endswith("--config retention.ms=86400000")


@pytest.mark.skipif(BASH is None, reason="bash is needed")
def test_create_topics_stops_on_the_first_failure(tmp_path: Path) -> None:
    fake = tmp_path / "kafka-topics.sh"
    fake.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KAFKA_TOPICS_BIN": str(fake)}
    assert BASH is not None
    done = subprocess.run(
        [BASH, str(OPS / "kafka" / "create-topics.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "topic ready" not in done.stdout


def test_make_secrets_creates_random_passwords_once(tmp_path: Path) -> None:
    target = tmp_path / "secrets"
    subprocess.run(
        ["sh", str(OPS / "make-secrets.sh"), str(target)], check=True, capture_output=True
    )
    files = sorted(p.name for p in target.iterdir())
    assert files == [
        "grafana_admin_password.txt", "redis_admin_password.txt", "redis_password.txt",
    ]  # fmt: skip
    first = {name: (target / name).read_text("utf-8") for name in files}
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", v) for v in first.values())
    assert len(set(first.values())) == len(files)
    assert (target.stat().st_mode & 0o777) == 0o700
    subprocess.run(
        ["sh", str(OPS / "make-secrets.sh"), str(target)], check=True, capture_output=True
    )
    assert {name: (target / name).read_text("utf-8") for name in files} == first


def test_secrets_dir_is_ignored_by_git() -> None:
    ignore = (OPS / "secrets" / ".gitignore").read_text("utf-8").split()
    assert ignore[-2:] == ["*", "!.gitignore"]
