"""Serving: consumers that classify texts with the current model version and publish predictions."""

from serving._batcher import Decoded, RawRecord, build_outputs, split_batch
from serving._consumer import PublishError, ServingConsumer, ServingStats
from serving._predictor import BatchOutput, Predictor
from serving._records import PredictionRecord, RecordStore
from serving._service import initial_predictor, run_serving

__all__ = [
    "BatchOutput",
    "Decoded",
    "PredictionRecord",
    "Predictor",
    "PublishError",
    "RawRecord",
    "RecordStore",
    "ServingConsumer",
    "ServingStats",
    "build_outputs",
    "initial_predictor",
    "run_serving",
    "split_batch",
]
