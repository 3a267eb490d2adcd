"""The Faust application of the worker, and nothing else.

Settings that matter on the embedded broker (measured, see issue 3):

- ``broker_session_timeout`` 6 s / ``broker_heartbeat_interval`` 1 s: the group joins in
  seconds instead of ~30 s.
- ``processing_guarantee="at_least_once"``: exactly-once (and idempotent producers) fail
  on this broker; the worker deduplicates instead (``streams._dedup``).
- ``producer_max_batch_size=1``: table changelog recovery loses updates with multi-record
  batches on this broker. The worker keeps no state in tables, but stays safe if one is added.
- The web server is off: by default it binds 0.0.0.0:6066.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from schemas import Settings
from streams._security import ssl_context


def broker_credentials(settings: Settings) -> Any:
    """Return Faust credentials for the security protocol (``None`` for plaintext)."""
    ctx = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        return faust.SASLCredentials(
            username=settings.sasl_username or "",
            password=password,
            mechanism=settings.sasl_mechanism or "PLAIN",
            ssl_context=ctx,
        )
    if ctx is not None:
        return faust.SSLCredentials(ctx)
    return None


def make_app(settings: Settings) -> faust.App:
    """Build the worker's Faust app: group ``settings.worker_group``, no web server."""
    scheme = "kafka" if settings.security_protocol in ("PLAINTEXT", "SASL_PLAINTEXT") else "ssl"
    brokers = [f"{scheme}://{host.strip()}" for host in settings.bootstrap_servers.split(",")]
    return faust.App(
        settings.worker_group,
        broker=brokers,
        broker_credentials=broker_credentials(settings),
        broker_client_id=f"{settings.client_id}-worker",
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=settings.heartbeat_interval_ms / 1000,
        broker_request_timeout=max(settings.request_timeout_ms / 1000, 10.0),
        broker_max_poll_interval=settings.max_poll_interval_ms / 1000,
        processing_guarantee="at_least_once",
        producer_acks=-1,
        producer_max_batch_size=1,
        # A dead letter carries a payload of up to max_event_bytes, base64-encoded.
        producer_max_request_size=max(1_048_576, settings.max_event_bytes * 2),
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # Topics are created with the contract's retention by ``ensure_topics``.
        topic_allow_declare=False,
        autodiscover=False,
        store="memory://",
        datadir=str(Path(settings.artifact_dir) / ".faust"),
        web_enabled=False,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
    )
