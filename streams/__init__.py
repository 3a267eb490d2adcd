"""Streams: the producer SDK, the CLI, the Faust app and agents, and the embedded stack."""

from streams._broker import BrokerError, EmbeddedBroker
from streams._clients import ensure_topics, make_admin, make_consumer, make_producer, make_redis
from streams._producer import EventProducer, InvalidEvent, ProduceReport, parse_event
from streams._redis_server import EmbeddedRedis, RedisServerError, redis_answers
from streams._security import (
    RedisCheckError,
    RedisUnreachable,
    SecurityConfigError,
    aiokafka_security,
    check_redis,
    faust_credentials,
    kafka_python_security,
    redis_security,
)
from streams._stack import Stack

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "EmbeddedRedis",
    "EventProducer",
    "InvalidEvent",
    "ProduceReport",
    "RedisCheckError",
    "RedisServerError",
    "RedisUnreachable",
    "SecurityConfigError",
    "Stack",
    "aiokafka_security",
    "check_redis",
    "ensure_topics",
    "faust_credentials",
    "kafka_python_security",
    "make_admin",
    "make_consumer",
    "make_producer",
    "make_redis",
    "parse_event",
    "redis_answers",
    "redis_security",
]
