"""Each package's public API is its ``__all__``, and the layering rules of DESIGN.md hold."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "schemas",
    "streams",
    "learners",
    "serving",
    "learners.drift",
    "learners.gate",
    "streams.datasets",
    "streams.bench",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_resolves_without_duplicates(name: str) -> None:
    # Ordering is ruff's job (RUF022); here: no duplicates, nothing private, all importable.
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr} is in __all__ but missing"
        assert not attr.startswith("_")


def test_schemas_imports_no_other_project_package() -> None:
    import ast
    from pathlib import Path

    root = Path(importlib.import_module("schemas").__file__ or "").parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in {"streams", "learners", "serving"}, path


def test_learners_import_no_kafka_client() -> None:
    import ast
    from pathlib import Path

    root = Path(importlib.import_module("learners").__file__ or "").parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in {"kafka", "aiokafka", "faust", "redis"}, path
