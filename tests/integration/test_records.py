"""Prediction records round-trip through the real Redis, with their TTL."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Settings
from serving import PredictionRecord, RecordStore
from streams import make_redis

pytestmark = pytest.mark.integration


def test_put_get_many_and_ttl(settings: Settings) -> None:
    store = RecordStore(make_redis(settings), settings.redis_prefix, ttl_s=120)
    emb = np.linspace(-1, 1, 384, dtype=np.float32)
    recs = [
        PredictionRecord(
            f"e{i}", "default", 3, f"text {i} ü", "sport", {"sport": 0.7, "x": 0.3}, emb, 99
        )
        for i in range(5)
    ]
    store.put_many(recs)
    got = store.get_many(["e0", "missing", "e4"])
    assert got[1] is None
    assert got[0] is not None and got[2] is not None
    assert got[0].text == "text 0 ü" and got[0].model_version == 3 and got[0].model == "default"
    assert np.array_equal(got[2].embedding, emb)
    assert got[0].scores == {"sport": 0.7, "x": 0.3}
    assert 0 < store.client.ttl(store.key("e3")) <= 120
    assert store.get("nope") is None
    store.client.close()
