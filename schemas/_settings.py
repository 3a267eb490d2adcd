"""One frozen settings object, read from ``STREAMTUNE_*`` environment variables.

This is the only module of the project that reads the environment. Every other
module receives a :class:`Settings` instance.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

ENV_PREFIX = "STREAMTUNE_"
#: Suffix that reads a value (a secret) from a file, e.g. ``STREAMTUNE_SASL_PASSWORD_FILE``.
FILE_SUFFIX = "_FILE"


class SettingsError(ValueError):
    """A ``STREAMTUNE_*`` variable is unknown or has a value that does not parse."""


class Settings(BaseModel):
    """Everything a streamtune process is configured with.

    Examples
    --------
    >>> s = Settings.from_env({"STREAMTUNE_PARTITIONS": "6"})
    >>> s.partitions
    6
    >>> s.topics.texts
    'streamtune.texts'
    >>> Settings.from_env({"STREAMTUNE_PARTITONS": "6"})
    Traceback (most recent call last):
    ...
    schemas._settings.SettingsError: unknown setting STREAMTUNE_PARTITONS; ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- Kafka -----------------------------------------------------------------------------
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "streamtune."
    partitions: int = Field(default=3, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)
    serving_group: str = "serving"
    worker_group: str = "streamtune-worker"
    client_id: str = "streamtune"
    # Tuned so a consumer group joins in ~3 s on the embedded broker (defaults take ~20 s).
    session_timeout_ms: int = Field(default=6000, ge=1000)
    heartbeat_interval_ms: int = Field(default=1000, ge=100)
    max_poll_interval_ms: int = Field(default=60000, ge=1000)
    request_timeout_ms: int = Field(default=15000, ge=1000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    # --- Redis -----------------------------------------------------------------------------
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    redis_prefix: str = "streamtune:"
    prediction_ttl_s: int = Field(default=24 * 3600, ge=1)
    # Kept out of the URL so they can come from files (``STREAMTUNE_REDIS_PASSWORD_FILE``);
    # when set they win over any user/password in ``redis_url``. TLS: a ``rediss://`` URL.
    redis_username: str | None = None
    redis_password: SecretStr | None = None
    redis_ssl_cafile: str | None = None
    redis_ssl_certfile: str | None = None
    redis_ssl_keyfile: str | None = None

    # --- Validation limits -----------------------------------------------------------------
    max_text_bytes: int = Field(default=16 * 1024, ge=1)
    max_event_bytes: int = Field(default=64 * 1024, ge=256)

    # --- Model and serving -----------------------------------------------------------------
    model_name: str = "default"
    model_path: str | None = None
    labels: tuple[str, ...] = ("negative", "positive")
    label_descriptions: dict[str, str] = Field(default_factory=dict)
    max_seq_len: int = Field(default=128, ge=8, le=512)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_threads: int = Field(default=0, ge=0)
    serve_max_batch: int = Field(default=32, ge=1, le=4096)
    serve_max_wait_ms: int = Field(default=20, ge=0)
    #: A serving member still (re)joining its group after this long exits, so its
    #: supervisor restarts it (see ``serving._group``).
    serve_rebalance_timeout_s: float = Field(default=60.0, gt=0)
    #: Serving commits the batches whose predictions are acknowledged at most this often
    #: (0: after every batch). A crash replays about this much: duplicates, never losses.
    serve_commit_interval_ms: int = Field(default=500, ge=0)
    #: Run each batch's forward pass on a worker thread while the loop polls the next
    #: batch and stores/publishes the previous one (``False``: one step after another).
    serve_pipeline: bool = True
    artifact_dir: str = "artifacts"
    seed: int = 0

    # --- Embedded stack --------------------------------------------------------------------
    embedded_host: str = "127.0.0.1"
    broker_port: int = Field(default=0, ge=0, le=65535)
    serving_processes: int = Field(default=1, ge=0, le=64)

    # --- Observability ---------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)

    # --- Worker (Faust feedback join, micro-batching, training, checkpoints) ----------------
    #: Largest micro-batch handed to the learner, and how long to wait to fill it.
    worker_max_batch: int = Field(default=64, ge=1, le=65536)
    worker_max_wait_ms: int = Field(default=500, ge=1)
    #: Trainable scope of the worker's learner: ``head``, ``top_k`` or ``full``.
    worker_scope: Literal["head", "top_k", "full"] = "head"
    #: Feedback that arrives before its prediction record waits this long, then dead-letters.
    pending_ttl_s: float = Field(default=30.0, gt=0)
    pending_max: int = Field(default=10_000, ge=1)
    #: A duplicate feedback later than this after the first trains again.
    dedup_ttl_s: int = Field(default=7 * 24 * 3600, ge=1)
    #: Scheduled checkpoints: after this many new examples, or this long after the first one.
    checkpoint_every_examples: int = Field(default=256, ge=1)
    checkpoint_every_s: float = Field(default=60.0, gt=0)
    #: Store the optimizer's moments and the replay buffer with each checkpoint, so a
    #: restarted worker resumes them (``full`` scope: about twice the model's size).
    checkpoint_train_state: bool = True
    #: Learning rate; unset picks the scope's default (head 5e-3, top_k 1e-4, full 5e-5).
    learner_lr: float | None = Field(default=None, gt=0)
    learner_replay_size: int = Field(default=2048, ge=0)
    learner_replay_fraction: float = Field(default=0.25, ge=0.0, lt=1.0)
    #: Largest share of a training batch one ``user_id`` may weigh (the excess is down-weighted).
    learner_max_user_share: float = Field(default=0.25, gt=0.0, le=1.0)
    #: Linear LR warm-up after a drift (0: none; adaptation wants full steps at once).
    learner_rewarm_steps: int = Field(default=0, ge=0)
    #: Most new examples per optimizer step (a bigger micro-batch takes several steps), so
    #: adaptation speed does not depend on how feedback happened to be batched. Unset: one
    #: step per micro-batch (the learning rates above were tuned so).
    learner_step_examples: int | None = Field(default=None, ge=1)
    #: On a confirmed error drift, forget the replay buffer (it holds the old concept) and
    #: re-warm the learning rate.
    drift_reset_replay: bool = True
    #: On a confirmed error drift, forget the optimizer's moment estimates (old concept's).
    drift_reset_optimizer: bool = True

    # --- Model lifecycle: drift, validation gate, publication, rollback ---------------------
    #: One labelled example in ``holdout_modulus`` (by event-id hash) is held out of training.
    holdout_modulus: int = Field(default=5, ge=2)
    holdout_size: int = Field(default=300, ge=10)
    #: Optional JSONL of ``{"text": ..., "label": ...}``: a fixed trusted set for the gate.
    trusted_set_path: str | None = None
    gate_accuracy_margin: float = Field(default=0.02, ge=0.0, le=1.0)
    #: Tolerated log-loss increase in nats; 0 ignores log-loss.
    gate_log_loss_margin: float = Field(default=0.1, ge=0.0)
    gate_min_examples: int = Field(default=20, ge=1)
    #: A drift candidate is made after this many examples trained past the detection.
    publish_post_drift_examples: int = Field(default=100, ge=0)
    #: Scheduled candidates: every N trained examples, or every T seconds with new examples.
    publish_every_examples: int = Field(default=500, ge=1)
    publish_every_s: float = Field(default=60.0, gt=0)
    rollback_window: int = Field(default=400, ge=10)
    rollback_min_samples: int = Field(default=100, ge=5)
    rollback_alpha: float = Field(default=0.01, gt=0.0, lt=1.0)
    #: Alerts per detector per window, so a flapping detector cannot flood the topic.
    alert_max_per_window: int = Field(default=3, ge=1)
    alert_window_s: float = Field(default=60.0, gt=0)
    #: JSON of a ``learners.drift.DriftConfig``; empty for the defaults.
    drift_config: str = ""
    #: Serving's label-free monitor observes one prediction in this many (KSWIN costs ~3 ms).
    input_drift_sample_every: int = Field(default=50, ge=1)

    # --- Fault injection (testing only) -----------------------------------------------------
    #: Testing only; never set it in production. The worker SIGKILLs itself at this named
    #: point (``NAME`` or ``NAME:COUNT``, the COUNT-th pass; see ``streams._crashpoints``).
    crash_point: str | None = Field(default=None, pattern=r"^[a-z_]+(:[1-9][0-9]*)?$")

    @field_validator("labels", mode="before")
    @classmethod
    def _split_labels(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("labels")
    @classmethod
    def _labels_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one label is needed")
        if len(set(value)) != len(value):
            raise ValueError(f"labels repeat: {value}")
        return value

    @field_validator("label_descriptions", mode="before")
    @classmethod
    def _parse_descriptions(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def topics(self) -> Topics:
        """The topic catalogue under this prefix."""
        return Topics(prefix=self.topic_prefix)

    @classmethod
    def env_names(cls) -> list[str]:
        """Every environment variable name the settings read (without ``_FILE`` forms)."""
        return sorted(ENV_PREFIX + name.upper() for name in cls.model_fields)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``STREAMTUNE_*`` variables (and ``STREAMTUNE_*_FILE`` files), then apply overrides.

        Unknown ``STREAMTUNE_*`` names raise :class:`SettingsError` listing the valid names,
        so a typo never silently falls back to a default.
        """
        env = os.environ if environ is None else environ
        known = {name.upper(): name for name in cls.model_fields}
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX) :]
            from_file = name.endswith(FILE_SUFFIX) and name[: -len(FILE_SUFFIX)] in known
            if from_file:
                name = name[: -len(FILE_SUFFIX)]
                try:
                    raw = Path(raw).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise SettingsError(f"{key}: cannot read {raw}: {exc.strerror}") from None
            if name not in known:
                valid = ", ".join(cls.env_names())
                raise SettingsError(f"unknown setting {key}; valid names are: {valid}")
            values[known[name]] = raw
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            # pydantic echoes input values; never let a secret reach a log that way.
            fields = sorted({str(err["loc"][0]) for err in _errors(exc)})
            raise SettingsError(
                f"invalid settings: {', '.join(fields)}: {_messages(exc)}"
            ) from None

    def to_env(self, *, only_changed: bool = True) -> dict[str, str]:
        """Environment variables that reproduce these settings in a child process.

        Secrets are revealed here on purpose (a child needs them); never log the result.

        Examples
        --------
        >>> Settings(partitions=6, labels=("a", "b")).to_env()
        {'STREAMTUNE_PARTITIONS': '6', 'STREAMTUNE_LABELS': 'a,b'}
        """
        default = type(self)()
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if only_changed and value == getattr(default, name):
                continue
            if value is None:
                continue
            if isinstance(value, SecretStr):
                text = value.get_secret_value()
            elif isinstance(value, tuple):
                text = ",".join(value)
            elif isinstance(value, dict):
                text = json.dumps(value)
            else:
                text = str(value)
            env[ENV_PREFIX + name.upper()] = text
        return env

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with some fields replaced, validated again."""
        data = self.model_dump()
        data.update(overrides)
        return type(self).model_validate(data)


def _errors(exc: ValueError) -> list[Any]:
    errors = getattr(exc, "errors", None)
    return list(errors()) if callable(errors) else []


def _messages(exc: ValueError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in _errors(exc))


class Topics(BaseModel):
    """The topic catalogue of the wire contract, under one prefix.

    Examples
    --------
    >>> Topics(prefix="t1.").dead_letter
    't1.dead-letter'
    """

    model_config = ConfigDict(frozen=True)

    prefix: str = "streamtune."

    @property
    def texts(self) -> str:
        """New text to classify."""
        return f"{self.prefix}texts"

    @property
    def feedback(self) -> str:
        """User feedback (labels) on earlier texts."""
        return f"{self.prefix}feedback"

    @property
    def predictions(self) -> str:
        """Live predictions."""
        return f"{self.prefix}predictions"

    @property
    def drift_alerts(self) -> str:
        """Drift alerts."""
        return f"{self.prefix}drift-alerts"

    @property
    def model_updates(self) -> str:
        """Published model versions."""
        return f"{self.prefix}model-updates"

    @property
    def dead_letter(self) -> str:
        """Anything invalid, with a reason."""
        return f"{self.prefix}dead-letter"

    def all(self) -> tuple[str, ...]:
        """Every topic of the contract."""
        return (
            self.texts,
            self.feedback,
            self.predictions,
            self.drift_alerts,
            self.model_updates,
            self.dead_letter,
        )

    def by_kind(self, kind: str) -> str:
        """Resolve a short name (``texts``, ``drift-alerts``, ...) or a full name to a topic.

        Raises
        ------
        KeyError
            With the list of valid names.
        """
        names = {t[len(self.prefix) :]: t for t in self.all()}
        if kind in names:
            return names[kind]
        if kind in names.values():
            return kind
        raise KeyError(f"unknown topic {kind!r}; valid: {', '.join(sorted(names))}")
