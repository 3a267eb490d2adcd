"""Test helpers: read a topic until a condition holds (a deadline, never a sleep); publish."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from kafka import KafkaConsumer

from learners import checkpoint_digest
from schemas import ModelUpdate, Settings
from serving._registry import Registry, VersionInfo
from streams._clients import ensure_topics, make_producer
from streams._tail import open_tail


class TopicReader:
    """Accumulates every record of a topic from the beginning, group-less."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer: KafkaConsumer = open_tail(settings, topic, from_beginning=True)
        self.records: list[Any] = []

    def poll(self) -> int:
        """Fetch what is there now; returns how many arrived."""
        n = 0
        for records in self.consumer.poll(timeout_ms=200).values():
            self.records.extend(records)
            n += len(records)
        return n

    def until(
        self,
        done: Callable[[list[Any]], bool],
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> list[Any]:
        """Poll until ``done(records)`` or the deadline; returns the records either way."""
        deadline = time.monotonic() + timeout
        while not done(self.records) and time.monotonic() < deadline:
            self.poll()
            if tick is not None:
                tick()
        return self.records

    def close(self) -> None:
        """Close the consumer."""
        self.consumer.close()


def publish_checkpoint(
    settings: Settings, registry: Registry, version: int, path: Path
) -> ModelUpdate:
    """Publish checkpoint ``path`` as ``version`` the way the worker does: registry, then topic."""
    info = VersionInfo(
        model=settings.model_name,
        version=version,
        uri=str(path),
        sha256=checkpoint_digest(path),
        reason="schedule",
        status="published",
        parent_version=version - 1,
    )
    update = registry.publish(info)
    producer = make_producer(settings)
    key = settings.model_name.encode()
    producer.send(settings.topics.model_updates, key=key, value=update.to_bytes()).get(30)
    producer.close()
    return update


def isolated_settings(
    bootstrap: str, redis_url: str, tmp_path: Path, *, kind: str = "t", **extra: Any
) -> Settings:
    """Settings of one test: unique topic prefix, groups and Redis prefix; topics created.

    The Redis prefix is ``{kind}:{tag}:``; :func:`clear_redis` removes its keys.
    """
    tag = uuid.uuid4().hex[:10]
    fields: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "redis_url": redis_url,
        "topic_prefix": f"{kind}{tag}.",
        "redis_prefix": f"{kind}:{tag}:",
        "serving_group": f"serving-{tag}",
        "worker_group": f"worker-{tag}",
        "artifact_dir": str(tmp_path / "artifacts"),
        "labels": ("sport", "politics", "technology", "business", "entertainment"),
        "partitions": 3,
        "serve_max_batch": 32,
        "torch_threads": 1,
    }
    fields.update(extra)
    s = Settings(**fields)
    ensure_topics(s)
    return s


def clear_redis(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a test's own keys)."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
