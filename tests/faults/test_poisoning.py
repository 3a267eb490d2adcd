"""S8: poisoning. One ``user_id`` sends 30% of all feedback, every label flipped.

A real worker trains on real health tweets (two outlets), with a trusted set for the gate.
Honest feedback from many users comes first; then the poisoner joins: 30% of all the
feedback is theirs, each label the wrong outlet, each event declaring ``weight`` 5 (the
field is the client's to set, so an attacker sets it). The per-user cap must hold the
poisoner to ``learner_max_user_share`` of the training weight (the registry records,
with each gate decision, the heaviest user's share since the previous one), and no
version may be published that is worse on the trusted set than the one it replaced,
judged here from the published checkpoints themselves. A control, in process, shows
the protections matter: trained on the same feedback without the cap, the model is
worse on the trusted set than version 0 and than the honest model serving when the
poisoner arrived, and the gate refuses it; with the cap it is not.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from learners import (
    Example,
    IncrementalLearner,
    LearnerConfig,
    TextClassifier,
    build_initial,
    default_model_path,
    load_checkpoint_into,
    tokenize,
)
from learners.gate import EvalSet, HoldoutPolicy, Metrics, Scores, ValidationGate, evaluate
from schemas import FeedbackEvent, Settings
from serving import Registry
from serving._records import PredictionRecord, RecordStore
from streams import make_producer, make_redis
from streams.datasets import DEMO_START_MS, natural
from streams.worker import SCOPE_LR
from tests.faults.ledger import Ledger, Report, Watch, record_trained

pytestmark = [pytest.mark.integration, pytest.mark.faults]

OUTLETS = ("KaiserHealthNews", "goodhealth")
N_HONEST_FIRST = 100  # wave 1: honest users only
N_FEEDBACK = 300  # waves 1 and 2
N_TRUSTED = 100  # the tweets after the feedback: the gate's trusted set
POISONER = "mallory"
POISON_SHARE = 0.3
POISON_WEIGHT = 5.0
HONEST_USERS = 40


@dataclass(frozen=True)
class Fb:
    """One feedback event as sent, with the truth beside it."""

    event_id: str
    text: str
    truth: str
    label: str
    user_id: str
    weight: float

    def event(self) -> FeedbackEvent:
        return FeedbackEvent(
            event_id=self.event_id, label=self.label, user_id=self.user_id, weight=self.weight
        )

    def example(self, embedding: np.ndarray) -> Example:
        return Example(self.event_id, self.text, self.label, embedding, self.user_id, self.weight)


def build_feedback(
    events: Sequence[Any], labels: Sequence[str], seed: int = 8
) -> tuple[list[Fb], list[Fb]]:
    """Waves 1 (honest) and 2 (the poisoner's share of *all* feedback, shuffled in).

    Examples
    --------
    >>> from streams.datasets import LabelledText
    >>> evs = [LabelledText(f"e{i}", "t", "ab"[i % 2], 0) for i in range(N_FEEDBACK)]
    >>> one, two = build_feedback(evs, ["a", "b"])
    >>> len(one), len(two), sum(f.user_id == POISONER for f in one + two)
    (100, 200, 90)
    >>> all(f.label != f.truth for f in two if f.user_id == POISONER)
    True
    """
    rng = random.Random(seed)
    n_poison = round(POISON_SHARE * len(events))
    poisoned = set(rng.sample(range(N_HONEST_FIRST, len(events)), n_poison))
    out: list[Fb] = []
    for i, e in enumerate(events):
        if i in poisoned:
            wrong = next(lb for lb in labels if lb != e.label)
            out.append(Fb(e.event_id, e.text, e.label, wrong, POISONER, POISON_WEIGHT))
        else:
            user = f"user-{rng.randrange(HONEST_USERS):02d}"
            out.append(Fb(e.event_id, e.text, e.label, e.label, user, 1.0))
    return out[:N_HONEST_FIRST], out[N_HONEST_FIRST:]


def embed(model: TextClassifier, tokenizer: Any, texts: Sequence[str], max_len: int) -> np.ndarray:
    """Pooled, normalised embeddings as serving stores them (the frozen encoder of ``head``)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            batch = tokenize(tokenizer, list(texts[i : i + 64]), max_len, torch.device("cpu"))
            out.append(model.embed(batch).float().numpy())
    return np.concatenate(out)


def scores(model: TextClassifier, emb: np.ndarray) -> Scores:
    """The head's probabilities, as the gate computes them for the ``head`` scope."""
    with torch.no_grad():
        probs = torch.softmax(model.head(torch.from_numpy(emb)).float(), dim=-1).numpy()
    return Scores.of(probs, model.labels)


def worse(new: Metrics, old: Metrics, s: Settings) -> bool:
    """The gate's rule (``ValidationGate._compare``): worse beyond the margins."""
    if new.accuracy < old.accuracy - s.gate_accuracy_margin:
        return True
    return bool(s.gate_log_loss_margin) and new.log_loss > old.log_loss + s.gate_log_loss_margin


def train_in_process(
    v0: TextClassifier,
    tokenizer: Any,
    s: Settings,
    waves: Sequence[Sequence[Fb]],
    emb: dict[str, np.ndarray],
    share: float,
) -> TextClassifier:
    """The worker's learner on the same feedback, in worker-sized batches (no gate)."""
    config = LearnerConfig(
        scope="head", lr=SCOPE_LR["head"], max_user_share=share, seed=s.seed,
        replay_size=s.learner_replay_size, replay_fraction=s.learner_replay_fraction,
    )  # fmt: skip
    learner = IncrementalLearner(copy.deepcopy(v0), tokenizer, config)
    policy = HoldoutPolicy(s.holdout_modulus)
    for wave in waves:
        train = [f.example(emb[f.event_id]) for f in wave if not policy.holds_out(f.event_id)]
        for i in range(0, len(train), s.worker_max_batch):
            learner.learn(train[i : i + s.worker_max_batch])
    return learner.model


def seed_records(s: Settings, v0: TextClassifier, fbs: Sequence[Fb], emb: np.ndarray) -> None:
    """Prediction records as serving with version 0 would have written them."""
    sc = scores(v0, emb)
    store = RecordStore(make_redis(s), s.redis_prefix, s.prediction_ttl_s)
    now = int(time.time() * 1000)
    recs = []
    for f, p, e in zip(fbs, sc.probs, emb, strict=True):
        label = v0.labels[int(np.argmax(p))]
        probs = dict(zip(v0.labels, map(float, p), strict=True))
        recs.append(PredictionRecord(f.event_id, s.model_name, 0, f.text, label, probs, e, now))
    store.put_many(recs)
    store.client.close()


def test_poisoner_is_capped_and_nothing_worse_is_published(
    settings: Settings,
    start_proc: Any,
    tmp_path: Path,
    fault_results: Callable[[Report], None],
) -> None:
    stream = natural(outlets=list(OUTLETS), start_ms=DEMO_START_MS, limit=N_FEEDBACK + N_TRUSTED)
    events, trusted = stream.events[:N_FEEDBACK], stream.events[N_FEEDBACK:]
    assert len(trusted) == N_TRUSTED
    trusted_path = tmp_path / "trusted.jsonl"
    trusted_path.write_text(
        "".join(json.dumps({"text": e.text, "label": e.label}) + "\n" for e in trusted)
    )
    s = settings.with_overrides(
        labels=tuple(sorted(OUTLETS)),
        label_descriptions=dict(stream.descriptions),
        trusted_set_path=str(trusted_path),
        learner_max_user_share=0.25,
        checkpoint_every_examples=40,
        checkpoint_every_s=2.0,
        publish_every_examples=80,
        publish_every_s=3.0,
        worker_max_wait_ms=200,
    )
    proc = start_proc(s, "worker")
    t0 = time.monotonic()

    # While the worker starts: version 0 and the records serving would have stored.
    v0, tokenizer = build_initial(
        default_model_path(), s.labels, s.label_descriptions, max_len=s.max_seq_len
    )
    wave1, wave2 = build_feedback(events, s.labels)
    fbs = wave1 + wave2
    emb: dict[str, np.ndarray] = {}

    def prepare(wave: Sequence[Fb]) -> None:
        vectors = embed(v0, tokenizer, [f.text for f in wave], s.max_seq_len)
        emb.update((f.event_id, e) for f, e in zip(wave, vectors, strict=True))
        seed_records(s, v0, wave, vectors)

    registry = Registry(make_redis(s), s.redis_prefix)
    policy = HoldoutPolicy(s.holdout_modulus)
    ledger = Ledger("S8 poisoning")
    probe = Ledger("probe")  # what the checkpoints trained so far
    watch = Watch(s, ledger)
    producer = make_producer(s)

    def send(wave: Sequence[Fb]) -> None:
        items = [(f.event_id, f.event_id.encode(), f.event().to_bytes()) for f in wave]
        assert watch.send(producer, items, kind="feedback", topic=s.topics.feedback) == len(wave)
        for f in wave:
            if policy.holds_out(f.event_id):
                ledger.held_out(f.event_id)

    def judged() -> int:
        """The newest version the gate decided on."""
        return max(v.version for v in registry.versions(s.model_name))

    def settled(wave: Sequence[Fb]) -> Callable[[Ledger], bool]:
        want = {f.event_id for f in wave if not policy.holds_out(f.event_id)}

        def done(_: Ledger) -> bool:
            assert proc.popen.poll() is None, proc.log()[-3000:]
            record_trained(probe, s.artifact_dir, s.model_name)
            if not want <= {eid for eid, _ in probe.trainings}:
                return False
            # Every step has been judged: a candidate holds all that was trained.
            return judged() >= max(v for _, v in probe.trainings)

        return done

    prepare(wave1)
    send(wave1)
    # While the worker trains wave 1: wave 2's records, and the trusted set for the audit.
    prepare(wave2)
    emb_trusted = embed(v0, tokenizer, [e.text for e in trusted], s.max_seq_len)
    y_trusted = [e.label for e in trusted]
    assert watch.until(settled(wave1), 150), proc.log()[-3000:]
    last_honest = judged()  # the gate decisions after it judged wave 2's steps only
    print(f"wave 1 settled at {time.monotonic() - t0:.1f} s")
    send(wave2)
    assert watch.until(settled(wave2), 150), proc.log()[-3000:]
    elapsed = time.monotonic() - t0
    print(f"wave 2 settled at {elapsed:.1f} s")
    producer.close()
    watch.close()

    # (b) Every published version, scored here from its checkpoint, against its predecessor.
    history = registry.history(s.model_name)
    infos = {v.version: v for v in registry.versions(s.model_name)}
    metrics_of: dict[int, Metrics] = {0: evaluate(scores(v0, emb_trusted), y_trusted)}
    for version, info in sorted(infos.items()):
        if version == 0:
            continue
        model = copy.deepcopy(v0)
        manifest = load_checkpoint_into(model, info.uri, expected_sha256=info.sha256)
        assert manifest.scope == "head"  # the encoder is version 0's: the embeddings hold
        metrics_of[version] = evaluate(scores(model, emb_trusted), y_trusted)
    published = [h for h in history if h.event == "published" and h.previous is not None]
    rejected = [h for h in history if h.event == "rejected"]
    assert [h.event for h in history if h.event == "rollback"] == []
    pairs = [(h.previous, h.version) for h in published]
    for prev, new in pairs:
        assert prev is not None and new > prev
        assert not worse(metrics_of[new], metrics_of[prev], s), (
            f"v{new} published though worse on the trusted set than v{prev}: "
            f"{metrics_of[new]} vs {metrics_of[prev]}"
        )

    # No ratchet: each published version is within the margin of the best one before it.
    best = metrics_of[0]
    for _, new in pairs:
        assert metrics_of[new].accuracy >= best.accuracy - s.gate_accuracy_margin - 1e-9, (
            f"v{new} ({metrics_of[new].accuracy:.3f}) fell below the best published "
            f"({best.accuracy:.3f}) by more than the margin"
        )
        best = max(best, metrics_of[new], key=lambda m: m.accuracy)

    # (a) The cap. Each gate decision records the heaviest user's share of the training
    # weight since the previous one; from wave 2 on that user is the poisoner (an honest
    # one holds ~1/40). It declared 80% of wave 2's weight and must be held at the cap. A
    # batch with fewer than 1/share users cannot honour the share (see learners._caps):
    # the odd tiny batch may add a little, hence the slack above the cap.
    windows = [
        (v.metrics["training.top_user_share"], v.metrics["training.weight"])
        for v in infos.values()
        if v.version > last_honest and "training.weight" in v.metrics
    ]
    assert windows, "the worker recorded no per-user share"
    held_share = sum(sh * w for sh, w in windows) / sum(w for _, w in windows)
    assert s.learner_max_user_share - 0.02 <= held_share <= s.learner_max_user_share + 0.01, windows
    raw = {
        name: sum(f.weight for f in w if f.user_id == POISONER) / sum(f.weight for f in w)
        for name, w in (("all", fbs), ("wave2", wave2))
    }

    # (c) Rejections, and what each rejected candidate scored against the version serving.
    # Every candidate worse on the trusted set than the version serving was refused, and
    # at least one poisoned candidate was refused as worse unless none was worse (the cap
    # then held the poison within the margin; the report gives the numbers).
    rejected_rows = [
        {
            "version": h.version,
            "serving": h.previous,
            "trusted_acc": round(metrics_of[h.version].accuracy, 3),
            "serving_trusted_acc": round(metrics_of[h.previous or 0].accuracy, 3),
            "reason": h.reason,
        }
        for h in rejected
    ]
    for row in rejected_rows:
        assert (
            str(row["reason"])
            .split(": ", 1)[1]
            .startswith(
                ("worse_accuracy", "worse_log_loss", "below_trusted_floor", "insufficient_holdout")
            )
        ), row
    candidates = [(infos[v].parent_version or 0, v) for v in infos if v > 0]
    worse_candidates = [(p, v) for p, v in candidates if worse(metrics_of[v], metrics_of[p], s)]
    assert all(infos[v].status == "rejected" for _, v in worse_candidates), worse_candidates
    refused_as_worse = [
        r
        for r in rejected_rows
        if ": worse_" in str(r["reason"]) or "below_trusted" in str(r["reason"])
    ]
    assert refused_as_worse or not worse_candidates, worse_candidates

    # Control, in process and deterministic: the same feedback without the cap gives a
    # model worse on the trusted set than version 0 and than the model serving when the
    # poisoner arrived (the honest wave's); the gate refuses it. With the cap it is better.
    honest = train_in_process(v0, tokenizer, s, (wave1,), emb, share=1.0)
    nocap = train_in_process(v0, tokenizer, s, (wave1, wave2), emb, share=1.0)
    capped = train_in_process(v0, tokenizer, s, (wave1, wave2), emb, share=0.25)
    m_honest, m_nocap, m_capped = (
        evaluate(scores(m, emb_trusted), y_trusted) for m in (honest, nocap, capped)
    )
    assert worse(m_nocap, metrics_of[0], s), (m_nocap, metrics_of[0])
    assert worse(m_nocap, m_honest, s), (m_nocap, m_honest)
    assert m_capped.accuracy > m_nocap.accuracy + s.gate_accuracy_margin, (m_capped, m_nocap)
    held = [f for f in fbs if policy.holds_out(f.event_id)]
    held_emb = np.stack([emb[f.event_id] for f in held])
    gate = ValidationGate(
        s.gate_accuracy_margin, s.gate_log_loss_margin or None, s.gate_min_examples
    )
    verdict = gate.decide(
        EvalSet([f.label for f in held], scores(honest, held_emb), scores(nocap, held_emb)),
        EvalSet(y_trusted, scores(honest, emb_trusted), scores(nocap, emb_trusted)),
        weights=True,
    )
    assert not verdict.accepted, verdict.reason

    # (d) The ledger.
    record_trained(ledger, s.artifact_dir, s.model_name)
    report = ledger.reconcile()
    report.extra.update(
        {
            "wall_s": round(elapsed, 1),
            "poisoner_count_share": POISON_SHARE,
            "poisoner_declared_weight_share": round(raw["all"], 3),
            "poisoner_declared_weight_share_wave2": round(raw["wave2"], 3),
            "poisoner_effective_share_wave2": round(held_share, 4),
            "poisoner_effective_share_per_decision": [round(sh, 4) for sh, _ in windows],
            "published": [
                {
                    "version": new,
                    "replaced": prev,
                    "trusted_acc": round(metrics_of[new].accuracy, 3),
                    "replaced_trusted_acc": round(metrics_of[prev or 0].accuracy, 3),
                }
                for prev, new in pairs
            ],
            "candidates": len(candidates),
            "candidates_worse_on_trusted": len(worse_candidates),
            "rejected": len(rejected),
            "rejected_as_worse": len(refused_as_worse),
            "rejected_detail": rejected_rows,
            "control_v0_trusted_acc": round(metrics_of[0].accuracy, 3),
            "control_honest_wave_trusted_acc": round(m_honest.accuracy, 3),
            "control_nocap_trusted_acc": round(m_nocap.accuracy, 3),
            "control_capped_trusted_acc": round(m_capped.accuracy, 3),
            "control_gate": verdict.reason,
        }
    )
    print(json.dumps(report.row(), indent=1))
    fault_results(report)
