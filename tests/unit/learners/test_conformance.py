"""The conformance suite, against every trainable scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from learners import SCOPES, Example, Scope
from learners.conformance import CHECKS
from tests.unit.learners.conftest import Factory


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("scope", SCOPES)
def test_conformance(
    scope: Scope, check: str, make_learner: Factory, examples: list[Example], tmp_path: Path
) -> None:
    batches = [examples[:4], examples[4:]]
    CHECKS[check](lambda: make_learner(scope), batches, tmp_path)
