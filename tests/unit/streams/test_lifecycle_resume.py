"""After a restart: the resumed, never-gated checkpoint is the candidate in hand (no services).

Found by the learner-kill scenario (S3): a worker killed between writing a checkpoint and
publishing it restarted with no candidate, and a publication attempt right after a
restart was rejected for an empty holdout (it lives in memory).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from learners import Example
from schemas import Settings
from serving._registry import Registry, VersionInfo
from streams._lifecycle import Lifecycle


class _Registry(Registry):
    """The registry's reads, from a dict (no Redis)."""

    def __init__(self, infos: dict[int, VersionInfo]) -> None:
        self.infos = infos

    def get(self, model: str, version: int) -> VersionInfo | None:
        return self.infos.get(version)


def _info(version: int, examples_seen: int, status: str = "published") -> VersionInfo:
    return VersionInfo.model_validate(
        {
            "model": "default",
            "version": version,
            "uri": f"v{version}",
            "sha256": "0" * 64,
            "reason": "schedule",
            "status": status,
            "examples_seen": examples_seen,
        }
    )


def _lifecycle(tmp_path: Path, infos: dict[int, VersionInfo]) -> Lifecycle:
    s = Settings(
        artifact_dir=str(tmp_path),
        publish_every_examples=20,
        publish_every_s=3600.0,
        gate_min_examples=2,
        holdout_modulus=2,
    )
    for version in infos:
        (tmp_path / "default" / f"v{version}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "default" / f"v{version}" / "manifest.json").write_text("{}")
    return Lifecycle(s, _Registry(infos), owner=None)  # type: ignore[arg-type]


def _fill_holdout(lc: Lifecycle, n: int) -> None:
    i = 0
    while len(lc.holdout) < n:
        lc.hold_out(Example(f"h{i}", "text", "positive"))
        i += 1


def test_unpublished_resumed_checkpoint_is_the_candidate(tmp_path: Path) -> None:
    lc = _lifecycle(tmp_path, {0: _info(0, 0), 3: _info(3, 10)})
    lc.serving_version = 3
    (tmp_path / "default" / "v5").mkdir()
    (tmp_path / "default" / "v5" / "manifest.json").write_text("{}")
    cand = asyncio.run(lc.resumed(5, 4, 30, {"loss": 0.5}))
    assert cand is not None and cand.version == 5 and lc.last_candidate == cand
    # The 20 examples v5 holds beyond the serving v3 count towards the schedule...
    assert lc.due() is None  # ...but not before the gate has a holdout to judge on
    _fill_holdout(lc, 2)
    assert lc.due() == "schedule"


def test_gated_or_serving_versions_are_not_offered_again(tmp_path: Path) -> None:
    lc = _lifecycle(tmp_path, {0: _info(0, 0), 4: _info(4, 30, "rejected")})
    assert asyncio.run(lc.resumed(0, None, 0, {})) is None  # what serves
    assert asyncio.run(lc.resumed(4, 3, 30, {})) is None  # the gate already rejected it
    assert lc.last_candidate is None
    _fill_holdout(lc, 2)
    assert lc.due() is None  # and nothing counted towards the schedule
