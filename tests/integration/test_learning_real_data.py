"""Learning on real data through the real system: held-out accuracy rises above version 0.

Two health-news outlets (vendored UCI tweets): texts → serving → predictions → feedback →
worker → checkpoint; the checkpoint is then scored on tweets it never saw.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import torch

from learners import (
    build_initial,
    default_model_path,
    latest_valid_checkpoint,
    load_checkpoint,
    tokenize,
)
from schemas import FeedbackEvent, Prediction, Settings, TextEvent
from streams import make_producer
from streams.datasets import DEMO_START_MS, natural
from tests.integration.helpers import TopicReader

pytestmark = pytest.mark.integration

OUTLETS = ("KaiserHealthNews", "goodhealth")
N_TRAIN, N_TEST = 400, 300


def _accuracy(model: Any, tokenizer: Any, texts: list[str], labels: list[str]) -> float:
    with torch.no_grad():
        batch = tokenize(tokenizer, texts, 128, torch.device("cpu"))
        pred = model(batch).argmax(-1).tolist()
    return float(np.mean([model.labels[p] == t for p, t in zip(pred, labels, strict=True)]))


def test_trained_checkpoint_beats_version_zero_on_held_out_tweets(
    settings: Settings, start_proc: Any
) -> None:
    stream = natural(outlets=list(OUTLETS), start_ms=DEMO_START_MS, limit=N_TRAIN + N_TEST)
    s = settings.with_overrides(
        labels=tuple(sorted(OUTLETS)),
        label_descriptions=dict(stream.descriptions),
        checkpoint_every_examples=50,
        worker_max_wait_ms=200,
    )
    start_proc(s, "serve")
    start_proc(s, "worker")
    train, test = stream.events[:N_TRAIN], stream.events[N_TRAIN:]
    producer = make_producer(s)
    for e in train:
        ev = TextEvent(event_id=e.event_id, text=e.text)
        producer.send(s.topics.texts, key=e.event_id.encode(), value=ev.to_bytes())
    producer.flush()
    preds = TopicReader(s, s.topics.predictions)
    preds.until(lambda recs: len(recs) >= N_TRAIN, timeout=240)
    assert {Prediction.model_validate_json(r.value).event_id for r in preds.records} >= {
        e.event_id for e in train
    }
    preds.close()
    for e in train:
        fb = FeedbackEvent(event_id=e.event_id, label=e.label)
        producer.send(s.topics.feedback, key=e.event_id.encode(), value=fb.to_bytes())
    producer.flush()
    producer.close()

    deadline = time.monotonic() + 180
    found = None
    while time.monotonic() < deadline:
        found = latest_valid_checkpoint(s.artifact_dir, s.model_name)
        if found is not None and found[1].examples_seen >= 250:
            break
        time.sleep(0.5)  # polling the artifact directory with a deadline, not synchronising
    assert found is not None and found[1].examples_seen >= 250, found
    trained, _ = load_checkpoint(found[0], base_model_path=default_model_path())
    v0, tokenizer = build_initial(default_model_path(), s.labels, s.label_descriptions)
    texts, labels = [e.text for e in test], [e.label for e in test]
    acc_v0 = _accuracy(v0, tokenizer, texts, labels)
    acc_trained = _accuracy(trained, tokenizer, texts, labels)
    print(f"held-out accuracy: version 0 {acc_v0:.3f}, v{found[1].version} {acc_trained:.3f}")
    assert acc_trained > acc_v0 + 0.03
