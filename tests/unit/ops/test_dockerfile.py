"""Static checks of the Dockerfile and .dockerignore."""

from __future__ import annotations

import re
import tomllib

from schemas import Settings
from tests.unit.ops.conftest import ROOT

TEXT = (ROOT / "Dockerfile").read_text("utf-8")


def _instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", TEXT)
    return [m.group(1) for m in re.finditer(rf"^{name} (.*)$", joined, re.M)]


def test_variants_cpu_and_cuda() -> None:
    assert re.search(r"^ARG VARIANT=cpu$", TEXT, re.M)
    stages = re.findall(r"^FROM \S+ AS (\S+)$", TEXT, re.M)
    assert {"base-cpu", "base-cuda"} <= set(stages)
    assert "FROM base-${VARIANT} AS runtime" in TEXT
    assert "download.pytorch.org/whl/cpu" in TEXT
    assert re.search(r"download\.pytorch\.org/whl/cu\d+", TEXT)
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:", TEXT, re.M)


def test_torch_pin_matches_pyproject() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("torch=="))
    assert f"ARG TORCH_VERSION={pin.removeprefix('torch==')}" in TEXT


def test_runs_as_non_root_and_offline() -> None:
    users = _instructions("USER")
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(_instructions("ENV"))
    assert "HF_HUB_OFFLINE=1" in env


def test_env_settings_are_known() -> None:
    env = " ".join(_instructions("ENV"))
    names = set(re.findall(r"\b(STREAMTUNE_[A-Z_]+)=", env))
    assert names
    assert names <= set(Settings.env_names())


def test_copied_sources_exist_and_are_packaged() -> None:
    sources = [
        s for line in _instructions("COPY") if "--from" not in line for s in line.split()[:-1]
    ]
    missing = [s for s in sources if not (ROOT / s).exists()]
    # README.md is the project's readme (pyproject `readme`): `pip install .` needs it.
    assert missing == []
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    for pattern in packages["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in sources


def test_dockerignore_keeps_secrets_and_venv_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text("utf-8").split()
    for entry in (".venv", ".git", "ops/secrets", "artifacts"):
        assert entry in ignored
