"""S3: kill the learner at its three commit points, each followed by a clean restart.

The worker SIGKILLs itself at a named crash point (``Settings.crash_point``):

1. ``checkpoint_written``: a checkpoint renamed into place, before its dedup marks, the
   acknowledgements and any publication. The restart resumes from it (it is not lost),
   repairs the marks from the journal, and offers it to the gate (published, or
   superseded by a newer published version that contains it);
2. ``published``: a version in the registry and on ``model-updates``, before the
   consumer group commits the offsets of what it trained. The restart resumes from the
   published version and skips the replayed records (nothing trains twice);
3. ``checkpoint_writing``: half of the tensors written to the temporary directory. The
   truncated temporary is removed at restart, never loaded, never served; the last good
   version resumes.

One worker restart sequence covers all three; at the end the checkpoints are reconciled
with what the broker acknowledged, and the registry's pointer was sampled throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from learners import read_trained_ids, verify_checkpoint
from learners._checkpoint import MANIFEST_FILE, MODEL_FILE
from schemas import ModelUpdate, Settings
from serving import Registry
from streams import make_producer, make_redis
from tests.faults.ledger import Ledger, Report, Watch, record_trained
from tests.faults.worker_helpers import (
    RegistryAudit,
    committed_offsets,
    died,
    fast_worker_settings,
    lineage_ids,
    mark_held_out,
    newest_version,
    resumed_from,
    seed_records,
    send_feedback,
    version_dirs,
    wait_for,
)
from tests.integration.helpers import TopicReader

pytestmark = [pytest.mark.integration, pytest.mark.faults]

WAVE = 32  # feedback events per stage
N = 4 * WAVE


def _settings(settings: Settings) -> Settings:
    # Any candidate passes the gate once it holds a few held-out examples.
    return fast_worker_settings(
        settings, publish_every_examples=16, publish_every_s=2.0, gate_min_examples=2
    )


class Stages:
    """Starts workers (each with its own crash point) and keeps their timings."""

    def __init__(self, settings: Settings, start_proc: Any, ledger: Ledger) -> None:
        self.settings = settings
        self.start_proc = start_proc
        self.ledger = ledger
        self.procs: list[Any] = []
        self.killed_at: float | None = None

    def start(self, crash_point: str | None) -> Any:
        proc = self.start_proc(self.settings.with_overrides(crash_point=crash_point), "worker")
        self.procs.append(proc)
        return proc

    def until_died(self, proc: Any, what: str, tick: Callable[[], None]) -> None:
        """Wait for the crash point to kill ``proc``; it must be a SIGKILL."""
        wait_for(lambda: died(proc), 120, what, self.procs, tick)
        assert proc.popen.returncode == -9, proc.log()[-3000:]
        self.killed_at = time.monotonic()
        self.ledger.fault(what)

    def until_resumed(self, proc: Any, what: str, tick: Callable[[], None]) -> int:
        """Wait for ``proc`` to resume; records the time since the kill."""
        version = wait_for(lambda: resumed_from(proc.log()), 120, what, self.procs, tick)
        assert self.killed_at is not None
        self.ledger.recovered(what, time.monotonic() - self.killed_at)
        return version


def _marked(settings: Settings, ids: list[str]) -> list[str]:
    client = make_redis(settings)
    keys = [f"{settings.redis_prefix}dedup:{settings.model_name}:{i}" for i in ids]
    return [i for i, v in zip(ids, client.mget(keys), strict=True) if v is not None]


def test_kill_learner_at_each_commit_point(
    settings: Settings, start_proc: Any, fault_results: Callable[[Report], None]
) -> None:
    s = _settings(settings)
    ids = [f"l{i}" for i in range(N)]
    seed_records(s, ids)
    ledger = Ledger("S3 kill learner x3")
    watch = Watch(s, ledger)
    producer = make_producer(s)
    audit = RegistryAudit(s)
    registry = Registry(make_redis(s), s.redis_prefix)
    stages = Stages(s, start_proc, ledger)
    root = Path(s.artifact_dir) / s.model_name
    waves = iter(range(4))

    def feed() -> None:
        k = next(waves)
        send_feedback(watch, producer, s, ids[k * WAVE : (k + 1) * WAVE])

    # 1. Killed between writing checkpoint 2 and its marks, acks and publication.
    w1 = stages.start("checkpoint_written:2")
    feed()
    stages.until_died(w1, "kill after checkpoint write", audit.sample)
    assert version_dirs(s) == [1, 2]
    orphan = verify_checkpoint(root / "v2")
    orphan_ids = read_trained_ids(root / "v2")
    assert orphan_ids and _marked(s, orphan_ids) == []  # the kill was before the marks
    assert registry.get(s.model_name, 2) is None  # ...and before any publication

    w2 = stages.start("published:1")
    assert stages.until_resumed(w2, "restart after checkpoint write", audit.sample) == 2
    assert sorted(_marked(s, orphan_ids)) == sorted(orphan_ids)  # repaired from the journal
    assert "unpublished v2" in w2.log()

    # 2. Killed after a publication, before the group commits the offsets it trained.
    feed()
    stages.until_died(w2, "kill after publish", audit.sample)
    published = registry.current(s.model_name)
    assert published is not None and published.version >= orphan.version
    pub = verify_checkpoint(published.uri)
    assert 2 in _chain(root, published.version), "v2 neither published nor superseded"
    updates = TopicReader(s, s.topics.model_updates)
    sent = updates.until(lambda r: any(_version(x) == published.version for x in r), 30)
    assert any(_version(x) == published.version for x in sent), "no ModelUpdate was produced"
    updates.close()
    committed = committed_offsets(s)
    replayed = sum(max(0, n - committed.get(k, 0)) for k, n in pub.offsets.items())

    w3 = stages.start("checkpoint_writing:1")
    assert stages.until_resumed(w3, "restart after publish", audit.sample) == pub.version

    # 3. Killed halfway through writing the tensors of the next checkpoint.
    feed()
    stages.until_died(w3, "kill during checkpoint write", audit.sample)
    (tmp,) = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    assert (tmp / MODEL_FILE).stat().st_size > 0 and not (tmp / MANIFEST_FILE).exists()
    assert newest_version(s) == pub.version  # nothing new became a version

    w4 = stages.start(None)
    assert stages.until_resumed(w4, "restart after torn write", audit.sample) == pub.version
    assert not tmp.exists(), "the truncated temporary was not removed"
    feed()
    mark_held_out(ledger, s, ids)
    trainable = set(ids) - ledger.held

    def settled() -> bool:
        # Everything trained along the final lineage, and that lineage published.
        audit.sample()
        current = registry.current_version(s.model_name) or 0
        return trainable <= lineage_ids(s) and current == newest_version(s)

    wait_for(settled, 90, "every feedback trained and published", stages.procs)
    assert not died(w4)
    watch.poll()
    watch.close()
    producer.close()
    audit.check()
    assert all(v not in ledger.refused_versions for v in audit.seen)
    rows = record_trained(ledger, s.artifact_dir, s.model_name)
    report = ledger.reconcile()
    assert rows == len(trainable)
    assert report.extra["duplicates_trained"] == 0
    assert ledger.refused_versions == set()  # no version directory ever failed to verify
    report.extra.update(
        kills=3,
        checkpoints=len(ledger.parents),
        publications=len(audit.seen) - 1,
        replayed_after_publish=replayed,
    )
    fault_results(report)


def _version(record: Any) -> int:
    return ModelUpdate.model_validate_json(record.value).version


def _chain(root: Path, version: int) -> list[int]:
    out = []
    cur: int | None = version
    while cur is not None and cur > 0:
        out.append(cur)
        cur = verify_checkpoint(root / f"v{cur}").parent
    return out
