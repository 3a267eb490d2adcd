"""Factories for Kafka (kafka-python) and Redis clients from one :class:`Settings`.

Timeouts are tuned for fast group joins on the embedded broker; see ``Settings``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas import Settings
from streams._security import kafka_python_security, redis_security


def _common(settings: Settings) -> dict[str, Any]:
    return {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        "request_timeout_ms": settings.request_timeout_ms,
        # A topic re-created after a broker restart is noticed within seconds (the default,
        # 5 minutes, leaves a subscribed consumer with no partitions for that long).
        "metadata_max_age_ms": 5_000,
        **kafka_python_security(settings),
    }


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer that waits for all in-sync replicas (``acks=all``)."""
    kwargs: dict[str, Any] = {
        **_common(settings),
        "acks": "all",
        "linger_ms": 5,
        "retries": 5,
        # Idempotence off: a memory-only broker that restarts forgets producer ids, and
        # kafka-python then retries UnknownProducerIdError until delivery_timeout_ms (the
        # producer hangs). A retry may duplicate a record; events carry event_id for that.
        "enable_idempotence": False,
        "delivery_timeout_ms": max(30_000, 2 * settings.request_timeout_ms),
        # Kafka's own limit guards the broker; ours (max_event_bytes) guards the consumers.
        "max_request_size": max(1_048_576, settings.max_event_bytes * 2),
    }
    kwargs.update(overrides)
    return KafkaProducer(**kwargs)


def make_consumer(
    settings: Settings,
    topics: Sequence[str],
    group_id: str | None,
    *,
    listener: ConsumerRebalanceListener | None = None,
    **overrides: Any,
) -> KafkaConsumer:
    """A consumer with manual commits and timeouts that join a group in seconds.

    ``listener`` receives the group's rebalance callbacks (see ``serving._group``).
    """
    kwargs: dict[str, Any] = {
        **_common(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        # A trickle of records should not wait out the default 500 ms fetch window.
        "fetch_max_wait_ms": 100,
    }
    kwargs.update(overrides)
    consumer = KafkaConsumer(**kwargs)
    if topics:
        consumer.subscribe(list(topics), listener=listener)
    return consumer


def make_admin(settings: Settings) -> KafkaAdminClient:
    """An admin client."""
    return KafkaAdminClient(**_common(settings))


def ensure_topics(settings: Settings, topics: Sequence[str] | None = None) -> list[str]:
    """Create the contract's topics (or the given ones) if missing; returns those created."""
    wanted = list(topics or settings.topics.all())
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        created: list[str] = []
        for topic in missing:
            config = {"retention.ms": str(settings.retention_ms)}
            try:
                admin.create_topics(
                    [NewTopic(topic, settings.partitions, settings.replication_factor, {}, config)]
                )
                created.append(topic)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def make_redis(settings: Settings, **overrides: Any) -> redis.Redis[bytes]:
    """A Redis client from ``redis_url`` (``rediss://`` for TLS; user/password in the URL)."""
    kwargs: dict[str, Any] = {
        "socket_timeout": 5.0,
        "socket_connect_timeout": 2.0,
        "health_check_interval": 10,
    }
    kwargs.update(redis_security(settings))
    kwargs.update(overrides)
    return redis.Redis.from_url(settings.redis_url.get_secret_value(), **kwargs)
