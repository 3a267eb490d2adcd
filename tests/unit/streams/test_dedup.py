"""The dedup ledger against an in-memory stand-in for the few Redis commands it uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams._dedup import DedupLedger


class FakeRedis:
    def __init__(self) -> None:
        self.kv: dict[str, bytes] = {}
        self.sets: dict[str, set[bytes]] = {}

    def mget(self, keys: Sequence[str]) -> list[Any]:
        return [self.kv.get(k) for k in keys]

    def smembers(self, name: str) -> set[bytes]:
        return set(self.sets.get(name, set()))

    def pipeline(self, transaction: bool = True) -> FakePipe:
        return FakePipe(self)


class FakePipe:
    def __init__(self, r: FakeRedis) -> None:
        self.r = r
        self.ops: list[Any] = []

    def delete(self, key: str) -> None:
        self.ops.append(lambda: (self.r.kv.pop(key, None), self.r.sets.pop(key, None)))

    def sadd(self, key: str, *members: str) -> None:
        self.ops.append(
            lambda: self.r.sets.setdefault(key, set()).update(m.encode() for m in members)
        )

    def expire(self, key: str, ttl: int) -> None:
        pass

    def set(self, key: str, value: str, ex: int) -> None:
        self.ops.append(lambda: self.r.kv.__setitem__(key, value.encode()))

    def execute(self) -> None:
        for op in self.ops:
            op()


def _ledger(r: FakeRedis) -> DedupLedger:
    return DedupLedger(r, "p:", "default", ttl_s=60)


def test_staged_ids_dedup_within_run_but_are_not_durable() -> None:
    r = FakeRedis()
    led = _ledger(r)
    led.recover(0)
    led.stage(["a", "b"])
    assert led.trained(["a", "c"]) == {"a"}
    # A crash now: a new process from the same checkpoint has not trained them.
    again = _ledger(r)
    again.recover(0)
    assert again.trained(["a", "b"]) == set()


def test_commit_after_checkpoint_makes_ids_durable() -> None:
    r = FakeRedis()
    led = _ledger(r)
    led.recover(0)
    led.stage(["a", "b"])
    assert led.prepare(1) == ["a", "b"]
    assert led.commit(1) == 2
    assert led.staged == frozenset()
    restarted = _ledger(r)
    restarted.recover(1)
    assert restarted.trained(["a", "b", "c"]) == {"a", "b"}


def test_crash_between_checkpoint_and_marks_is_repaired_from_the_journal() -> None:
    r = FakeRedis()
    led = _ledger(r)
    led.recover(0)
    led.stage(["a"])
    led.prepare(1)  # journal written, checkpoint 1 written, then the process died
    restarted = _ledger(r)
    assert restarted.trained(["a"]) == set()
    assert restarted.recover(1) == 1
    assert restarted.trained(["a"]) == {"a"}


def test_marks_of_a_skipped_corrupt_checkpoint_do_not_count() -> None:
    r = FakeRedis()
    led = _ledger(r)
    led.recover(1)
    led.stage(["x"])
    led.prepare(2)
    led.commit(2)
    # Checkpoint 2 turns out corrupt: the worker resumes from 1 and must train "x" again.
    restarted = _ledger(r)
    restarted.recover(1)
    assert restarted.trained(["x"]) == set()
    restarted.stage(["x"])
    restarted.prepare(3)
    restarted.commit(3)
    assert restarted.trained(["x"]) == {"x"}


def test_a_stale_journal_under_a_reused_version_is_replaced() -> None:
    r = FakeRedis()
    led = _ledger(r)
    led.recover(0)
    led.stage(["old"])
    led.prepare(1)  # died before checkpoint 1 existed
    fresh = _ledger(r)
    fresh.recover(0)
    fresh.stage(["new"])
    fresh.prepare(1)
    assert r.smembers(fresh.journal_key(1)) == {b"new"}


def test_discarded_staged_ids_are_not_journalled_and_train_again() -> None:
    # A rollback undoes what was trained since the last checkpoint.
    ledger = DedupLedger(FakeRedis(), "p:", "m", ttl_s=60)
    ledger.recover(None)
    ledger.stage(["a", "b"])
    assert ledger.trained(["a", "b", "c"]) == {"a", "b"}
    assert ledger.discard_staged() == 2
    assert ledger.trained(["a", "b"]) == set()
    ledger.stage(["c"])
    assert ledger.prepare(1) == ["c"]
