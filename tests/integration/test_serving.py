"""Serving end to end: texts in, predictions out, bad input dead-lettered, crashes lose nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas import DeadLetter, Prediction, Settings, TextEvent
from serving import RecordStore
from streams import make_producer, make_redis
from tests.integration.helpers import TopicReader

pytestmark = pytest.mark.integration

TOPICS = ["sport", "politics", "technology", "business", "entertainment"]


def texts(n: int, tag: str) -> list[TextEvent]:
    return [
        TextEvent(event_id=f"{tag}-{i}", text=f"news item {i} about {TOPICS[i % 5]} today")
        for i in range(n)
    ]


def predicted_ids(records: list[Any]) -> Counter[str]:
    return Counter(Prediction.model_validate_json(r.value).event_id for r in records)


def wait_ids(reader: TopicReader, ids: set[str], timeout: float, tick: Any = None) -> Counter[str]:
    reader.until(lambda recs: ids <= set(predicted_ids(recs)), timeout, tick)
    return predicted_ids(reader.records)


def test_cli_and_independent_client_each_give_exactly_one_prediction_per_text(
    settings: Settings, start_proc: Any, tmp_path: Path
) -> None:
    start_proc(settings, "serve")
    n = 1000
    cli_events = texts(n, "cli")
    path = tmp_path / "texts.jsonl"
    path.write_text("\n".join(e.model_dump_json() for e in cli_events) + "\n")
    env = {**settings.to_env(), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "produce", "texts", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"acknowledged {n}" in done.stderr

    # An independent client (aiokafka: its own protocol implementation, not kafka-python).
    other = texts(n, "aio")

    async def produce_aio() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for e in other:
                await producer.send(settings.topics.texts, e.to_bytes(), key=e.event_id.encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(produce_aio())
    reader = TopicReader(settings, settings.topics.predictions)
    want = {e.event_id for e in cli_events + other}
    got = wait_ids(reader, want, timeout=240)
    reader.close()
    assert set(got) == want
    assert sum(got.values()) == 2 * n, "exactly one prediction per text, no duplicates"
    sample = Prediction.model_validate_json(reader.records[0].value)
    assert sample.label in TOPICS and sample.model_version == 0
    assert abs(sum(sample.scores.values()) - 1.0) < 1e-4

    # Each prediction left a record for the feedback join: text, label, version, embedding.
    store = RecordStore(make_redis(settings), settings.redis_prefix, settings.prediction_ttl_s)
    rec = store.get("cli-7")
    assert rec is not None and rec.text == cli_events[7].text and rec.embedding.shape == (384,)
    assert 0 < store.client.ttl(store.key("cli-7")) <= settings.prediction_ttl_s


BAD: list[tuple[bytes | None, bytes, str]] = [
    (b"b0", b"{not json", "malformed_json"),
    (b"b1", b'{"schema_version":1,"event_id":"b1","text":"\xff\xfe"}', "invalid_utf8"),
    (b"b2", b"\xc3\x28", "invalid_utf8"),
    (b"b3", b'{"schema_version":1,"event_id":"b3"}', "invalid_fields"),
    (b"b4", b'{"schema_version":1,"text":"no id"}', "invalid_fields"),
    (b"b5", b'{"schema_version":1,"event_id":"b5","text":""}', "invalid_fields"),
    (b"b6", b'{"schema_version":1,"event_id":"b6","text":42}', "invalid_fields"),
    (b"b7", b'{"schema_version":2,"event_id":"b7","text":"x"}', "unknown_schema_version"),
    (b"b8", b'{"event_id":"b8","text":"x"}', "unknown_schema_version"),
    (b"b9", b"[1,2,3]", "not_an_object"),
    (b"b10", b"null", "not_an_object"),
    (b"b11", b'{"schema_version":1,"event_id":"b11","text":"x","extra":1}', "invalid_fields"),
    (None, b'{"schema_version":1,"event_id":"b12","text":"no key"}', "missing_key"),
    (b"other", b'{"schema_version":1,"event_id":"b13","text":"x"}', "key_mismatch"),
    (b"b14", b'{"schema_version":1,"event_id":"b14","text":"   "}', "invalid_fields"),
    (b"b15", b'{"schema_version":"1","event_id":"b15","text":"x"}', "unknown_schema_version"),
    (
        b"b16",
        b'{"schema_version":1,"event_id":"b16","text":"x","timestamp":"now"}',
        "invalid_fields",
    ),
    (b"b17", b"", "empty_value"),
    (
        b"b18",
        b'{"schema_version":1,"event_id":"b18","text":"' + b"a" * 20_000 + b'"}',
        "text_too_large",
    ),
    (
        b"b19",
        b'{"schema_version":1,"event_id":"b19","text":"' + b"a" * 1_100_000 + b'"}',
        "oversized",
    ),
]


def test_malformed_messages_are_dead_lettered_and_valid_neighbours_predicted(
    settings: Settings, start_proc: Any
) -> None:
    start_proc(settings, "serve")
    producer = make_producer(settings, max_request_size=4_000_000)
    valid = texts(100, "ok")
    for i, event in enumerate(valid):
        producer.send(settings.topics.texts, key=event.event_id.encode(), value=event.to_bytes())
        if i % 5 == 0 and i // 5 < len(BAD):
            key, value, _ = BAD[i // 5]
            producer.send(settings.topics.texts, key=key, value=value)
    producer.flush()
    producer.close()
    dead = TopicReader(settings, settings.topics.dead_letter)
    dead.until(lambda recs: len(recs) >= len(BAD), timeout=120)
    preds = TopicReader(settings, settings.topics.predictions)
    got = wait_ids(preds, {e.event_id for e in valid}, timeout=120)
    dead.poll()
    letters = [DeadLetter.model_validate_json(r.value) for r in dead.records]
    dead.close()
    preds.close()
    assert len(letters) == len(BAD)
    codes = Counter(d.reason.split(":")[0] for d in letters)
    assert codes == Counter(code for _, _, code in BAD)
    assert set(got) == {e.event_id for e in valid}
    assert all(d.source_topic == settings.topics.texts and d.offset >= 0 for d in letters)
    small = next(d for d in letters if d.reason.startswith("malformed_json"))
    assert small.raw == "e25vdCBqc29u"  # base64 of the original bytes


def test_two_consumers_share_load_and_sigkill_loses_nothing(
    settings: Settings, start_proc: Any
) -> None:
    a = start_proc(settings, "serve")
    b = start_proc(settings, "serve")
    events = texts(900, "kill")
    producer = make_producer(settings)
    reader = TopicReader(settings, settings.topics.predictions)
    sent = 0
    killed = False

    def produce_some(k: int) -> None:
        nonlocal sent
        for e in events[sent : sent + k]:
            producer.send(settings.topics.texts, key=e.event_id.encode(), value=e.to_bytes())
        producer.flush()
        sent = min(len(events), sent + k)

    produce_some(300)
    # Both members must have joined before the kill means anything: wait for predictions.
    reader.until(lambda recs: len(recs) >= 150, timeout=120)
    a.kill()
    killed = True
    produce_some(600)
    got = wait_ids(reader, {e.event_id for e in events}, timeout=120)
    reader.close()
    producer.close()
    assert killed and a.popen.returncode == -9
    assert set(got) == {e.event_id for e in events}, "no prediction lost"
    duplicates = sum(got.values()) - len(events)
    print(f"duplicates after SIGKILL: {duplicates}")
    assert b.popen.poll() is None
    assert "serving" in a.log() and "serving" in b.log()
