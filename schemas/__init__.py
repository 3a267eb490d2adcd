"""Wire contract of streamtune: event models, topic catalogue, settings and codec.

Pure: imports no other package of the project.
"""

from schemas._codec import REASONS, Rejection, dead_letter, decode_feedback, decode_text
from schemas._events import (
    SCHEMA_VERSION,
    DeadLetter,
    DriftAlert,
    Event,
    FeedbackEvent,
    ModelUpdate,
    Prediction,
    TextEvent,
    UpdateReason,
    now_ms,
)
from schemas._settings import ENV_PREFIX, Settings, SettingsError, Topics

__all__ = [
    "ENV_PREFIX",
    "REASONS",
    "SCHEMA_VERSION",
    "DeadLetter",
    "DriftAlert",
    "Event",
    "FeedbackEvent",
    "ModelUpdate",
    "Prediction",
    "Rejection",
    "Settings",
    "SettingsError",
    "TextEvent",
    "Topics",
    "UpdateReason",
    "dead_letter",
    "decode_feedback",
    "decode_text",
    "now_ms",
]
