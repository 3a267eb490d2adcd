"""The README's two commands exist, do what it says, and CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _first_screen() -> str:
    return "\n".join((ROOT / "README.md").read_text().splitlines()[:40])


def test_readme_first_screen_has_demo_and_test_commands() -> None:
    screen = _first_screen()
    block = re.search(r"```bash\n(.*?)```", screen, re.S)
    assert block, "the first screen needs a bash code block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert "make demo" in commands
    assert "make test" in commands


def test_makefile_has_the_readme_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test", "install"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "streamtune demo" in makefile


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "rc -eq 5" in (ROOT / "Makefile").read_text(), "pytest exit 5 must be handled"
