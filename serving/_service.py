"""``streamtune serve``: build the clients and the model, then run the serving loop."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import torch

from learners import build_initial, default_model_path, select_device
from schemas import DriftAlert, Settings
from serving._consumer import ServingConsumer
from serving._group import GroupState
from serving._input_drift import InputDriftWatch
from serving._metrics import Metrics, start_metrics_server
from serving._predictor import Predictor
from serving._records import RecordStore
from serving._registry import Registry
from serving._swap import ModelSwapper, SwapWatcher, refusal_reporter
from streams._clients import ensure_topics, make_consumer, make_producer, make_redis
from streams._security import check_redis
from streams._tail import open_tail

log = logging.getLogger(__name__)


def initial_predictor(settings: Settings) -> Predictor:
    """Version 0: the pretrained encoder with a zero-shot head over the configured labels."""
    path = settings.model_path or default_model_path()
    model, tokenizer = build_initial(
        path, settings.labels, settings.label_descriptions, max_len=settings.max_seq_len
    )
    return Predictor(
        model,
        tokenizer,
        version=0,
        device=select_device(settings.device),
        max_len=settings.max_seq_len,
    )


def configure_torch(settings: Settings) -> None:
    """Thread count and determinism knobs for inference."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    torch.manual_seed(settings.seed)


def run_serving(settings: Settings, stop: threading.Event | None = None) -> ServingConsumer:
    """Run a serving consumer until SIGTERM/SIGINT (or ``stop``); returns it for inspection."""
    stop = stop or threading.Event()
    check_redis(settings)  # fail fast and clearly, before loading anything
    configure_torch(settings)
    t0 = time.perf_counter()
    predictor = initial_predictor(settings)
    ensure_topics(settings)
    group = GroupState()
    consumer = make_consumer(
        settings, [settings.topics.texts], settings.serving_group, listener=group
    )
    producer = make_producer(settings)
    store = RecordStore(make_redis(settings), settings.redis_prefix, settings.prediction_ttl_s)
    metrics = Metrics()
    server, port = start_metrics_server(settings, metrics.registry)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)

    def emit_alert(alert: DriftAlert) -> None:
        # Flushed with the batch's predictions, before its offsets are committed.
        producer.send(
            settings.topics.drift_alerts, key=alert.model.encode(), value=alert.to_bytes()
        )

    watch = InputDriftWatch(settings, emit_alert, metrics=metrics)
    serving = ServingConsumer(
        settings,
        predictor,
        consumer=consumer,
        producer=producer,
        store=store,
        metrics=metrics,
        on_output=watch.observe,
        group=group,
    )
    serving.ensure_topics = lambda: ensure_topics(settings)
    registry = Registry(store.client, settings.redis_prefix)

    def send(topic: str, value: bytes) -> object:
        return producer.send(topic, value=value)

    swapper = ModelSwapper(predictor, on_refused=refusal_reporter(settings, send), metrics=metrics)

    def install(new: Predictor) -> None:
        serving.predictor = new  # read once per batch: this assignment is the swap

    watcher = SwapWatcher(
        settings,
        swapper,
        registry,
        open_tail(settings, settings.topics.model_updates, from_beginning=False),
        current=lambda: serving.predictor,
        install=install,
    )
    # Serving started later picks up the current pointer before its first batch.
    watcher.check_registry()
    watcher.start(stop)

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the batch in hand, then stopping", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    log.info(
        "serving %s v%d labels=%s on %s (ready in %.1fs)",
        settings.model_name,
        serving.predictor.version,
        ",".join(serving.predictor.label_names),
        settings.bootstrap_servers,
        time.perf_counter() - t0,
    )
    metrics.ready.set(1)  # model loaded, clients built: the consume loop starts now
    try:
        serving.run(stop)
    finally:
        stop.set()
        if watcher.thread is not None:
            watcher.thread.join(5)
        watcher.consumer.close()
        consumer.close(autocommit=False)
        producer.flush()
        producer.close()
        store.client.close()
        server.shutdown()
        server.server_close()
    return serving
