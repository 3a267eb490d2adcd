#!/usr/bin/env bash
# Create the wire-contract topics, idempotently. Run once by the `kafka-init` service.
#
# Partitions, replication and retention come from the same STREAMTUNE_* variables the
# streamtune processes read, so the embedded stack (streams.ensure_topics) and Apache
# Kafka get the same topics. tests/unit/ops checks the list against schemas.Topics.
set -euo pipefail

bootstrap="${STREAMTUNE_BOOTSTRAP_SERVERS:-kafka:9092}"
prefix="${STREAMTUNE_TOPIC_PREFIX:-streamtune.}"
partitions="${STREAMTUNE_PARTITIONS:-3}"
replication="${STREAMTUNE_REPLICATION_FACTOR:-1}"
retention_ms="${STREAMTUNE_RETENTION_MS:-604800000}"
kafka_topics="${KAFKA_TOPICS_BIN:-/opt/kafka/bin/kafka-topics.sh}"

TOPICS=(texts feedback predictions drift-alerts model-updates dead-letter)

for kind in "${TOPICS[@]}"; do
    topic="${prefix}${kind}"
    "$kafka_topics" --bootstrap-server "$bootstrap" --create --if-not-exists \
        --topic "$topic" --partitions "$partitions" --replication-factor "$replication" \
        --config "retention.ms=${retention_ms}"
    echo "topic ready: $topic"
done
