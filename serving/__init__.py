"""Serving: consumers that classify texts with the current model version and publish predictions."""

from serving._batcher import Decoded, RawRecord, build_outputs, split_batch
from serving._consumer import BrokerDataLost, PublishError, ServingConsumer, ServingStats
from serving._metrics import Metrics, exported_names, start_metrics_server
from serving._predictor import BatchOutput, Predictor
from serving._records import PredictionRecord, RecordStore
from serving._registry import HistoryEntry, Registry, RegistryError, VersionInfo
from serving._service import initial_predictor, run_serving
from serving._swap import ModelSwapper, SwapStats, SwapWatcher, checkpoint_dir

__all__ = [
    "BatchOutput",
    "BrokerDataLost",
    "Decoded",
    "HistoryEntry",
    "Metrics",
    "ModelSwapper",
    "PredictionRecord",
    "Predictor",
    "PublishError",
    "RawRecord",
    "RecordStore",
    "Registry",
    "RegistryError",
    "ServingConsumer",
    "ServingStats",
    "SwapStats",
    "SwapWatcher",
    "VersionInfo",
    "build_outputs",
    "checkpoint_dir",
    "exported_names",
    "initial_predictor",
    "run_serving",
    "split_batch",
    "start_metrics_server",
]
