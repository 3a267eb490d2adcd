"""Fixtures for the static deployment checks: the repository's compose, ops and TLS files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
OPS = ROOT / "ops"

_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Resolve ``${NAME:-default}`` the way compose does with an empty environment."""
    if isinstance(value, str):
        return _DEFAULT.sub(lambda m: m.group(2) or "", value).replace("$$", "$")
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    return value


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="session")
def compose_raw() -> dict[str, Any]:
    data = load_yaml(ROOT / "docker-compose.yml")
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def compose(compose_raw: dict[str, Any]) -> dict[str, Any]:
    """The compose file after interpolation with defaults (what an engine would run)."""
    result = interpolate(compose_raw)
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="session")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway self-signed CA certificate (PEM) with CN ``streamtune-test-ca``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test CA")
    d = tmp_path_factory.mktemp("ca")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=streamtune-test-ca",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return d / "ca.pem"
