"""Prometheus metrics of the ``serve`` and ``worker`` processes, and their HTTP endpoint.

Every metric lives on a :class:`Metrics` object that owns a dedicated
:class:`~prometheus_client.CollectorRegistry`, never on the global default registry: tests
(and a process that runs serving and the worker side by side) can create as many as they
like without "duplicated timeseries" errors. Serve and worker share one metric set, so
one dashboard covers both; Prometheus' ``job`` label tells them apart.

The endpoint binds ``settings.metrics_host`` (default ``127.0.0.1``, so nothing is exposed
unless asked) on ``settings.metrics_port`` (``0`` picks a free port, which is returned).

Examples
--------
>>> m = Metrics()
>>> m.events_in.labels(topic="streamtune.texts").inc(3)
>>> m.registry.get_sample_value("streamtune_events_in_total", {"topic": "streamtune.texts"})
3.0
>>> "streamtune_e2e_latency_seconds_bucket" in exported_names()
True
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from schemas import Settings

#: Prefix of every streamtune metric name.
NAMESPACE = "streamtune"

# 1 ms .. 30 s: a batched forward pass on CPU sits in the tens of ms, a cold group join in seconds.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
# A hot swap loads safetensors and verifies sha256: tens of ms for MiniLM, seconds on slow disks.
SWAP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}


class Metrics:
    """All streamtune metrics, registered on one registry.

    Parameters
    ----------
    registry
        Where to register; a new :class:`CollectorRegistry` when ``None``.
    process_metrics
        Also register the standard ``process_*`` and ``python_info`` collectors.

    Attributes
    ----------
    events_in : Counter
        ``streamtune_events_in_total{topic}``: records consumed, valid or not.
    dead_letters : Counter
        ``streamtune_dead_letters_total{reason}``: records sent to the dead-letter topic.
    predictions : Counter
        ``streamtune_predictions_total{model,label}``: predictions published.
    batch_size : Histogram
        ``streamtune_batch_size{stage}``: ``stage`` is ``serve`` or ``train``.
    e2e_latency : Histogram
        ``streamtune_e2e_latency_seconds``: from the text event's timestamp to its prediction.
    model_latency : Histogram
        ``streamtune_model_latency_seconds{stage}``: one batched forward (``serve``) or
        learner step (``train``).
    consumer_lag : Gauge
        ``streamtune_consumer_lag{group,topic,partition}``: end offset minus position, for
        the partitions this process holds, where the client exposes it.
    training_examples : Counter
        ``streamtune_training_examples_total{model}``: labelled examples learned from;
        its rate is the training throughput.
    training_loss : Gauge
        ``streamtune_training_loss{model}``: mean loss of the last learner step.
    feedback : Counter
        ``streamtune_feedback_total{outcome}``: ``correct`` or ``wrong`` (joined to
        its prediction), ``expired`` (no prediction record within the pending TTL:
        dead-lettered) or ``duplicate`` (already trained).
    rolling_accuracy : Gauge
        ``streamtune_rolling_accuracy{model}``: accuracy of served predictions over the
        recent feedback window, in ``[0, 1]``.
    drift_detections : Counter
        ``streamtune_drift_detections_total{detector,signal}``.
    model_version : Gauge
        ``streamtune_model_version{model}``: the version this process serves (serve) or
        trains (worker).
    gate_decisions : Counter
        ``streamtune_gate_decisions_total{model,decision}``: ``accepted`` or ``rejected``.
    swap_duration : Histogram
        ``streamtune_swap_duration_seconds``: load, verify and install a new version.
    swaps_failed : Counter
        ``streamtune_swaps_failed_total{reason}``: e.g. ``sha256``, ``load``, ``labels``.
    ready : Gauge
        ``streamtune_ready``: ``1`` once the process has loaded its model and entered its
        consume loop, ``0`` before. The endpoint answers earlier (the worker serves it while
        it loads), so "scrapes" is not "ready"; ``streamtune demo`` waits for this.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, process_metrics: bool = True
    ) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        r = self.registry
        ns = NAMESPACE
        if process_metrics:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self.events_in = Counter(
            "events_in", "Records consumed, by topic.", ["topic"], namespace=ns, registry=r
        )
        self.dead_letters = Counter(
            "dead_letters", "Records dead-lettered, by reason.", ["reason"], namespace=ns,
            registry=r,
        )  # fmt: skip
        self.predictions = Counter(
            "predictions", "Predictions published.", ["model", "label"], namespace=ns, registry=r
        )
        self.batch_size = Histogram(
            "batch_size", "Records per micro-batch.", ["stage"], namespace=ns, registry=r,
            buckets=BATCH_BUCKETS,
        )  # fmt: skip
        self.e2e_latency = Histogram(
            "e2e_latency_seconds", "Text event timestamp to prediction published.",
            namespace=ns, registry=r, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.model_latency = Histogram(
            "model_latency_seconds", "One batched forward pass or learner step.", ["stage"],
            namespace=ns, registry=r, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.consumer_lag = Gauge(
            "consumer_lag", "End offset minus consumer position.",
            ["group", "topic", "partition"], namespace=ns, registry=r,
        )  # fmt: skip
        self.training_examples = Counter(
            "training_examples", "Labelled examples learned from.", ["model"], namespace=ns,
            registry=r,
        )  # fmt: skip
        self.training_loss = Gauge(
            "training_loss", "Mean loss of the last learner step.", ["model"], namespace=ns,
            registry=r,
        )  # fmt: skip
        self.feedback = Counter(
            "feedback", "Feedback events, by outcome of the join.", ["outcome"], namespace=ns,
            registry=r,
        )  # fmt: skip
        self.rolling_accuracy = Gauge(
            "rolling_accuracy", "Accuracy of served predictions over recent feedback.",
            ["model"], namespace=ns, registry=r,
        )  # fmt: skip
        self.drift_detections = Counter(
            "drift_detections", "Drift detections.", ["detector", "signal"], namespace=ns,
            registry=r,
        )  # fmt: skip
        self.model_version = Gauge(
            "model_version", "Model version served or trained.", ["model"], namespace=ns,
            registry=r,
        )  # fmt: skip
        self.gate_decisions = Counter(
            "gate_decisions", "Validation gate decisions.", ["model", "decision"], namespace=ns,
            registry=r,
        )  # fmt: skip
        self.swap_duration = Histogram(
            "swap_duration_seconds", "Load, verify and install a new model version.",
            namespace=ns, registry=r, buckets=SWAP_BUCKETS,
        )  # fmt: skip
        self.swaps_failed = Counter(
            "swaps_failed", "Hot swaps refused or failed.", ["reason"], namespace=ns, registry=r
        )
        self.ready = Gauge(
            "ready", "1 once the model is loaded and the consume loop runs.", namespace=ns,
            registry=r,
        )  # fmt: skip


def exported_names() -> frozenset[str]:
    """Every sample name :class:`Metrics` can expose (``_total``, ``_bucket``, ... included).

    Dashboards and alert rules may reference only these; a test checks that they do.
    """
    names: set[str] = set()
    for family in Metrics(process_metrics=False).registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return frozenset(names)


def start_metrics_server(settings: Settings, registry: CollectorRegistry) -> tuple[WSGIServer, int]:
    """Serve ``registry`` on ``http://{metrics_host}:{metrics_port}/metrics`` from a daemon thread.

    Returns
    -------
    tuple
        The server (call ``shutdown()`` then ``server_close()`` to stop it) and the bound
        port, which differs from ``settings.metrics_port`` when that is ``0``.
    """
    server, _thread = start_http_server(
        settings.metrics_port, addr=settings.metrics_host, registry=registry
    )
    return server, int(server.server_address[1])
