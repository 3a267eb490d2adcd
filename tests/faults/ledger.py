"""The fault ledger: what the broker acknowledged, what came out, and a reconciliation.

Like a lost-write checker reconciling a log: every acknowledged valid text must be
predicted at least once, every acknowledged invalid record dead-lettered, every
acknowledged valid feedback trained (or held out for the gate) or dead-lettered, no event
counted twice in a checkpoint, versions only increasing (except declared rollbacks), and
no refused checkpoint ever named by a prediction.

A checkpoint contains everything its ancestors contain (its ``parent`` links), so "counted
twice in a checkpoint" means one event id first trained into two versions of one lineage
chain. What each version first trained comes from its ``trained_ids.json``
(:func:`record_trained`).

:class:`Ledger` is pure bookkeeping; :class:`Watch` feeds it from the real topics.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer

from learners import CheckpointError, list_versions, read_trained_ids, verify_checkpoint
from learners.gate import HoldoutPolicy
from schemas import DeadLetter, FeedbackEvent, Prediction, Settings
from tests.integration.helpers import TopicReader


@dataclass(frozen=True)
class Ack:
    """One record the broker acknowledged."""

    event_id: str
    kind: str  # "text" or "feedback"
    valid: bool
    topic: str
    partition: int
    offset: int
    at: float  # wall time, seconds


@dataclass(frozen=True)
class Seen:
    """One prediction read back."""

    event_id: str
    version: int
    at: float  # the prediction's own timestamp, seconds
    partition: int
    offset: int


@dataclass
class Report:
    """The reconciliation of one scenario."""

    scenario: str
    sent: int
    lost: int
    duplicates: int
    recovery_s: float | None
    dead_lettered: int
    violations: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The table row as JSON-able data."""
        return {
            "scenario": self.scenario,
            "sent": self.sent,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 2),
            "dead_lettered": self.dead_lettered,
            **self.extra,
        }

    def __str__(self) -> str:
        rec = "-" if self.recovery_s is None else f"{self.recovery_s:.2f}"
        return f"| {self.scenario} | {self.sent} | {self.lost} | {self.duplicates} | {rec} |" + (
            f" violations: {self.violations}" if self.violations else ""
        )


def event_id_of(raw_b64: str) -> str | None:
    """The ``event_id`` inside a dead letter's ``raw`` bytes, when they still parse.

    Examples
    --------
    >>> event_id_of(base64.b64encode(b'{"event_id": "e1", "text": 3}').decode())
    'e1'
    >>> event_id_of(base64.b64encode(b"{oops").decode()) is None
    True
    """
    try:
        obj = json.loads(base64.b64decode(raw_b64))
    except ValueError:
        return None
    value = obj.get("event_id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


class Ledger:
    """Bookkeeping for one scenario; :meth:`reconcile` checks it."""

    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self.acks: list[Ack] = []
        self.predictions: list[Seen] = []
        self.dead: list[DeadLetter] = []
        self.trainings: list[tuple[str, int]] = []
        #: Parent of every checkpoint version audited (``None``: a root).
        self.parents: dict[int, int | None] = {}
        self.held: set[str] = set()
        self.refused_versions: set[int] = set()
        self.rollbacks: list[tuple[int, float]] = []
        self.faults: list[tuple[str, float]] = []
        self.measured_recovery: dict[str, float] = {}

    # --- recording -----------------------------------------------------------------------

    def acked(self, ack: Ack) -> None:
        """The broker acknowledged a record."""
        self.acks.append(ack)

    def predicted(self, seen: Seen) -> None:
        """A prediction was read back from the predictions topic."""
        self.predictions.append(seen)

    def dead_lettered(self, letter: DeadLetter) -> None:
        """A dead letter was read back."""
        self.dead.append(letter)

    def trained(self, event_id: str, version: int) -> None:
        """An event was trained into checkpoint ``version`` (from its manifest)."""
        self.trainings.append((event_id, version))

    def lineage(self, version: int, parent: int | None) -> None:
        """Checkpoint ``version`` was trained from ``parent`` (from its manifest)."""
        self.parents[version] = parent

    def held_out(self, event_id: str) -> None:
        """A feedback event the holdout policy keeps for the gate: it must never train."""
        self.held.add(event_id)

    def refused(self, version: int) -> None:
        """A checkpoint version failed verification: it must never serve."""
        self.refused_versions.add(version)

    def rollback(self, to_version: int, at: float | None = None) -> None:
        """A declared rollback: versions may go down to ``to_version`` after ``at``."""
        self.rollbacks.append((to_version, time.time() if at is None else at))

    def fault(self, name: str, at: float | None = None) -> None:
        """A fault ended (process killed, broker back...) at wall time ``at``."""
        self.faults.append((name, time.time() if at is None else at))

    def recovered(self, name: str, seconds: float) -> None:
        """A recovery time the scenario measured itself (e.g. Redis writes resumed)."""
        self.measured_recovery[name] = seconds

    # --- derived -------------------------------------------------------------------------

    def predicted_counts(self) -> Counter[str]:
        """Predictions per event_id."""
        return Counter(p.event_id for p in self.predictions)

    def first_prediction_at(self) -> dict[str, float]:
        """When each event was first predicted (serving's clock)."""
        first: dict[str, float] = {}
        for p in self.predictions:
            first[p.event_id] = min(first.get(p.event_id, p.at), p.at)
        return first

    def valid_texts(self) -> set[str]:
        """Acknowledged valid text ids."""
        return {a.event_id for a in self.acks if a.kind == "text" and a.valid}

    def unpredicted(self) -> set[str]:
        """Acknowledged valid texts with no prediction yet."""
        return self.valid_texts() - set(self.predicted_counts())

    def dead_by_source(self) -> dict[tuple[str, int, int], DeadLetter]:
        """Dead letters by their source record."""
        return {(d.source_topic, d.partition, d.offset): d for d in self.dead}

    def dead_event_ids(self) -> set[str]:
        """Event ids dead-lettered: from the raw bytes, else from the source offset."""
        by_offset = {(a.topic, a.partition, a.offset): a.event_id for a in self.acks}
        out: set[str] = set()
        for d in self.dead:
            eid = event_id_of(d.raw) or by_offset.get((d.source_topic, d.partition, d.offset))
            if eid is not None:
                out.add(eid)
        return out

    def chain(self, version: int) -> list[int]:
        """``version`` and its ancestors, newest first (stops at a root or unknown parent).

        Examples
        --------
        >>> led = Ledger("doc")
        >>> led.lineage(1, 0); led.lineage(2, 1); led.lineage(3, 1)
        >>> led.chain(3)
        [3, 1, 0]
        """
        out: list[int] = []
        cur: int | None = version
        while cur is not None and cur not in out:
            out.append(cur)
            cur = self.parents.get(cur)
        return out

    def versions(self) -> set[int]:
        """Every checkpoint version the ledger knows of."""
        return {v for _, v in self.trainings} | set(self.parents)

    def trained_twice(self) -> set[str]:
        """Event ids first trained into two versions of one lineage chain (or twice in one)."""
        by_version: defaultdict[int, Counter[str]] = defaultdict(Counter)
        for eid, version in self.trainings:
            by_version[version][eid] += 1
        versions = self.versions()
        leaves = versions - {p for p in self.parents.values() if p is not None}
        twice: set[str] = set()
        for leaf in leaves or versions:  # a leaf's chain holds every inner chain
            counts: Counter[str] = Counter()
            for version in self.chain(leaf):
                counts.update(by_version.get(version, Counter()))
            twice.update(eid for eid, n in counts.items() if n > 1)
        return twice

    def final_lineage_ids(self) -> set[str] | None:
        """Ids trained along the newest version's chain (``None``: no lineage recorded)."""
        if not self.parents:
            return None
        chain = set(self.chain(max(self.versions())))
        return {eid for eid, version in self.trainings if version in chain}

    def recovery_s(self) -> float | None:
        """Longest recovery over the faults.

        For a fault ending at ``t``: per text partition, the time from ``t`` to the first
        prediction of an event on that partition not predicted before ``t``; the slowest
        partition counts. Measured recoveries given by the scenario count too.
        """
        first = self.first_prediction_at()
        worst: list[float] = list(self.measured_recovery.values())
        for _, t in self.faults:
            per_partition: dict[int, float] = {}
            for a in self.acks:
                if a.kind != "text" or not a.valid or a.event_id not in first:
                    continue
                at = first[a.event_id]
                if at > t:
                    per_partition[a.partition] = min(per_partition.get(a.partition, at), at)
            if per_partition:
                worst.append(max(per_partition.values()) - t)
        return max(worst) if worst else None

    # --- the check -----------------------------------------------------------------------

    def check(self) -> Report:
        """Reconcile without asserting; the report lists violations."""
        counts = self.predicted_counts()
        valid = self.valid_texts()
        violations: list[str] = []
        lost = sorted(valid - set(counts))
        if lost:
            violations.append(f"{len(lost)} acknowledged texts never predicted: {lost[:5]}")
        dead_ids = self.dead_event_ids()
        dead_src = self.dead_by_source()
        bad = [a for a in self.acks if not a.valid]
        not_dead = [
            a.event_id
            for a in bad
            if (a.topic, a.partition, a.offset) not in dead_src and a.event_id not in dead_ids
        ]
        if not_dead:
            violations.append(f"invalid records not dead-lettered: {not_dead[:5]}")
        reasonless = [d for d in self.dead if not d.reason.strip()]
        if reasonless:
            violations.append(f"{len(reasonless)} dead letters without a reason")
        untrained = self._untrained(dead_ids, violations)
        twice = sorted(self.trained_twice())
        if twice:
            violations.append(f"event counted twice in a checkpoint: {twice[:5]}")
        violations += self._lineage_order()
        served_refused = sorted({p.version for p in self.predictions} & self.refused_versions)
        if served_refused:
            violations.append(f"refused versions served: {served_refused}")
        violations += self._version_order()
        return Report(
            scenario=self.scenario,
            sent=len(self.acks),
            lost=len(lost) + len(not_dead) + len(untrained),
            duplicates=sum(n - 1 for n in counts.values()),
            recovery_s=self.recovery_s(),
            dead_lettered=len(self.dead),
            violations=violations,
            extra={"duplicates_trained": len(twice)} if self.trainings else {},
        )

    def _untrained(self, dead_ids: set[str], violations: list[str]) -> list[str]:
        """Feedback neither trained (nor held out) nor dead-lettered; adds violations."""
        trained_ids = {eid for eid, _ in self.trainings}
        feedback = {a.event_id for a in self.acks if a.kind == "feedback" and a.valid}
        untrained = sorted(feedback - trained_ids - dead_ids - self.held)
        if untrained:
            violations.append(
                f"{len(untrained)} feedback neither trained nor dead-lettered: {untrained[:5]}"
            )
        held_trained = sorted(self.held & trained_ids)
        if held_trained:
            violations.append(f"held-out feedback trained: {held_trained[:5]}")
        final = self.final_lineage_ids()
        if final is not None and not self.rollbacks:
            # Without a rollback, the newest version must hold everything ever trained.
            dropped = sorted((feedback & trained_ids) - final - dead_ids - self.held)
            if dropped:
                newest = max(self.versions())
                violations.append(
                    f"{len(dropped)} feedback trained but not in the lineage of v{newest}: "
                    f"{dropped[:5]}"
                )
                untrained += dropped
        return untrained

    def _lineage_order(self) -> list[str]:
        """A checkpoint's parent is older than it."""
        bad = sorted((v, p) for v, p in self.parents.items() if p is not None and p >= v)
        return [f"v{v} has parent v{p}: versions only increase" for v, p in bad]

    def _version_order(self) -> list[str]:
        """Per predictions partition, in offset order: versions never go down undeclared."""
        by_partition: dict[int, list[Seen]] = defaultdict(list)
        for p in self.predictions:
            by_partition[p.partition].append(p)
        out: list[str] = []
        for partition, seen in by_partition.items():
            seen.sort(key=lambda s: s.offset)
            for prev, cur in itertools.pairwise(seen):
                if cur.version >= prev.version:
                    continue
                declared = any(v <= cur.version and at <= cur.at for v, at in self.rollbacks)
                if not declared:
                    out.append(
                        f"version went {prev.version} -> {cur.version} on predictions "
                        f"partition {partition} at offset {cur.offset} without a rollback"
                    )
                    break
        return out

    def reconcile(self) -> Report:
        """Reconcile and assert every property; returns the report."""
        report = self.check()
        assert not report.violations, f"{self.scenario}: {report.violations}"
        assert report.lost == 0
        return report


class Watch:
    """Feeds a :class:`Ledger` from the real topics: sends with acks, reads outputs."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.preds = TopicReader(settings, settings.topics.predictions)
        self.dead = TopicReader(settings, settings.topics.dead_letter)
        self._preds_seen = 0
        self._dead_seen = 0

    def send(
        self,
        producer: KafkaProducer,
        items: Iterable[tuple[str, bytes | None, bytes]],
        *,
        kind: str = "text",
        valid: bool = True,
        topic: str | None = None,
        timeout: float = 60.0,
    ) -> int:
        """Send ``(event_id, key, value)`` items; acknowledged ones enter the ledger."""
        topic = topic or self.settings.topics.texts
        pending = [(eid, producer.send(topic, key=key, value=value)) for eid, key, value in items]
        producer.flush(timeout=timeout)
        now = time.time()
        n = 0
        for eid, fut in pending:
            if fut.succeeded():
                meta = fut.value
                self.ledger.acked(
                    Ack(eid, kind, valid, meta.topic, meta.partition, meta.offset, now)
                )
                n += 1
        return n

    def poll(self) -> None:
        """Read what arrived on predictions and dead-letter into the ledger."""
        self.preds.poll()
        self.dead.poll()
        for r in self.preds.records[self._preds_seen :]:
            p = Prediction.model_validate_json(r.value)
            self.ledger.predicted(
                Seen(p.event_id, p.model_version, p.timestamp / 1000, r.partition, r.offset)
            )
        self._preds_seen = len(self.preds.records)
        for r in self.dead.records[self._dead_seen :]:
            self.ledger.dead_lettered(DeadLetter.model_validate_json(r.value))
        self._dead_seen = len(self.dead.records)

    def until(
        self, done: Callable[[Ledger], bool], timeout: float, tick: Callable[[], None] | None = None
    ) -> bool:
        """Poll until ``done(ledger)`` or the deadline; returns whether it held."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if done(self.ledger):
                return True
            if time.monotonic() >= deadline:
                return False
            if tick is not None:
                tick()

    def all_predicted(self, timeout: float, tick: Callable[[], None] | None = None) -> bool:
        """Wait until every acknowledged valid text is predicted."""
        return self.until(lambda led: not led.unpredicted(), timeout, tick)

    def reopen(self, timeout: float = 60.0, tick: Callable[[], None] | None = None) -> None:
        """New readers (after the broker lost its topics); the ledger keeps what it saw.

        Retries until both topics have partitions again (``open_tail`` raises while a
        re-created topic has none yet), calling ``tick`` between tries: the process that
        re-creates them may be one a supervisor has yet to restart.
        """
        self.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.preds = TopicReader(self.settings, self.settings.topics.predictions)
                self.dead = TopicReader(self.settings, self.settings.topics.dead_letter)
                break
            except (KeyError, ValueError):
                if time.monotonic() >= deadline:
                    raise
                if tick is not None:
                    tick()
        self._preds_seen = 0
        self._dead_seen = 0

    def close(self) -> None:
        """Close the readers."""
        self.preds.close()
        self.dead.close()


def text_items(tag: str, n: int, start: int = 0) -> list[tuple[str, bytes | None, bytes]]:
    """``n`` valid text events as ``(event_id, key, value)``."""
    topics = ("sport", "politics", "technology", "business", "entertainment")
    out: list[tuple[str, bytes | None, bytes]] = []
    for i in range(start, start + n):
        eid = f"{tag}-{i}"
        value = json.dumps(
            {"schema_version": 1, "event_id": eid, "text": f"news {i} on {topics[i % 5]}"}
        ).encode()
        out.append((eid, eid.encode(), value))
    return out


def record_trained(ledger: Ledger, artifact_dir: str, model_name: str) -> int:
    """Record what every checkpoint that verifies first trained, and its parent.

    Reads each ``v<N>`` directory's ``trained_ids.json`` (sha256-verified); a version that
    fails verification is recorded as refused (it must never serve). Versions already
    recorded are skipped, so it can be called again as checkpoints appear. Returns the
    number of ``(event_id, version)`` rows added.
    """
    rows = 0
    for version, path in list_versions(artifact_dir, model_name):
        if version in ledger.parents or version in ledger.refused_versions:
            continue
        try:
            manifest = verify_checkpoint(path)
            ids = read_trained_ids(path)
        except CheckpointError:
            ledger.refused(version)
            continue
        if manifest.version != version or manifest.model_name != model_name:
            ledger.refused(version)
            continue
        ledger.lineage(version, manifest.parent)
        for event_id in ids:
            ledger.trained(event_id, version)
        rows += len(ids)
    return rows


def rows_table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of report rows."""
    head = (
        "| scenario | sent | lost | duplicates | duplicates trained | recovery s |\n"
        "|---|---|---|---|---|---|"
    )
    body = [
        f"| {r['scenario']} | {r['sent']} | {r['lost']} | {r['duplicates']} | "
        f"{r.get('duplicates_trained', '-')} | "
        f"{'-' if r['recovery_s'] is None else r['recovery_s']} |"
        for r in rows
    ]
    return "\n".join([head, *body])


def trainable_ids(settings: Settings, tag: str, n: int) -> list[str]:
    """``n`` event ids the worker trains (the gate's holdout keeps 1 in ``modulus``)."""
    policy = HoldoutPolicy(settings.holdout_modulus)
    ids = (f"{tag}-{i}" for i in itertools.count())
    return list(itertools.islice((i for i in ids if not policy.holds_out(i)), n))


def feedback_items(ids: Iterable[str], label: str = "politics") -> list[tuple[str, bytes, bytes]]:
    """Valid feedback for ``ids`` as ``(event_id, key, value)``."""
    return [(i, i.encode(), FeedbackEvent(event_id=i, label=label).to_bytes()) for i in ids]
