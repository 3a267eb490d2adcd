"""Streams: the producer SDK, the CLI, the Faust app and agents, and the embedded stack."""

from streams._broker import BrokerError, EmbeddedBroker
from streams._clients import ensure_topics, make_admin, make_consumer, make_producer, make_redis
from streams._producer import EventProducer, InvalidEvent, ProduceReport, parse_event
from streams._redis_server import EmbeddedRedis, RedisServerError, redis_answers
from streams._stack import Stack

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "EmbeddedRedis",
    "EventProducer",
    "InvalidEvent",
    "ProduceReport",
    "RedisServerError",
    "Stack",
    "ensure_topics",
    "make_admin",
    "make_consumer",
    "make_producer",
    "make_redis",
    "parse_event",
    "redis_answers",
]
