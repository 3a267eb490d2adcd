"""Hot-swap: load published versions in the background, verify, then swap between batches.

The consumer reads ``predictor`` once per batch, so assigning a new one is the whole swap:
the batch in hand finishes on the old version and every prediction names exactly one.
A checkpoint that fails verification is refused and reported on the dead letter; the
old version keeps serving.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer

from learners import CheckpointError, load_checkpoint_into
from schemas import ModelUpdate, Rejection, Settings, dead_letter
from serving._metrics import Metrics
from serving._predictor import Predictor
from serving._registry import Registry, VersionInfo

log = logging.getLogger(__name__)

#: ``uri`` of version 0, the zero-shot model every process builds without a file.
BUILTIN_V0 = "builtin:v0"

#: Reports a refused version: (reason, the update's raw bytes or None).
Refusal = Callable[[str, bytes | None], None]


def checkpoint_dir(uri: str) -> Path:
    """A checkpoint URI as a local path (``file://`` or a plain path).

    Examples
    --------
    >>> str(checkpoint_dir("file:///a/v3"))
    '/a/v3'
    """
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if "://" in uri:
        raise CheckpointError(f"unsupported checkpoint URI scheme: {uri.split('://')[0]}")
    return Path(uri)


@dataclass
class SwapStats:
    """What the swapper did."""

    swaps: int = 0
    refused: int = 0
    durations_s: list[float] = field(default_factory=list)


class ModelSwapper:
    """Builds verified predictors from published versions, on top of the base model."""

    def __init__(
        self,
        base: Predictor,
        *,
        on_refused: Refusal | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        # The version-0 predictor is never mutated: every version is a deep copy of it with
        # the checkpoint overlaid, so a bad load can never damage what is serving.
        self.base = base
        self.on_refused = on_refused
        self.refused: set[tuple[int, str]] = set()
        self.stats = SwapStats()
        self.metrics = metrics

    def build(self, version: int, uri: str, sha256: str) -> Predictor:
        """Verify and load one version; raises :class:`CheckpointError` when it fails."""
        if version == 0 and uri == BUILTIN_V0:
            return self.base
        model = copy.deepcopy(self.base.model)
        manifest = load_checkpoint_into(model, checkpoint_dir(uri), expected_sha256=sha256)
        if manifest.version != version:
            raise CheckpointError(f"{uri} holds version {manifest.version}, not {version}")
        return Predictor(
            model,
            self.base.tokenizer,
            version=version,
            device=self.base.device,
            max_len=self.base.max_len,
            sha256=sha256,
        )

    def try_build(
        self, version: int, uri: str, sha256: str, raw: bytes | None = None
    ) -> Predictor | None:
        """Like :meth:`build`, but a failure is reported once and gives ``None``."""
        if (version, sha256) in self.refused:
            return None
        t0 = time.perf_counter()
        try:
            predictor = self.build(version, uri, sha256)
        except (CheckpointError, OSError, ValueError) as exc:
            self.refused.add((version, sha256))
            self.stats.refused += 1
            log.error("refusing model version %d: %s", version, exc)
            if self.metrics is not None:
                self.metrics.swaps_failed.labels(reason=type(exc).__name__).inc()
            if self.on_refused is not None:
                self.on_refused(f"checkpoint_refused: v{version}: {exc}", raw)
            return None
        self.stats.durations_s.append(time.perf_counter() - t0)
        if self.metrics is not None:
            self.metrics.swap_duration.observe(self.stats.durations_s[-1])
        return predictor


class SwapWatcher:
    """Follows ``model-updates`` (fast path) and the registry pointer (backstop) in a thread."""

    def __init__(
        self,
        settings: Settings,
        swapper: ModelSwapper,
        registry: Registry,
        consumer: KafkaConsumer,
        *,
        current: Callable[[], Predictor],
        install: Callable[[Predictor], None],
        registry_every_s: float = 2.0,
    ) -> None:
        self.settings = settings
        self.swapper = swapper
        self.registry = registry
        self.consumer = consumer
        self.current = current
        self.install = install
        self.registry_every_s = registry_every_s
        self.thread: threading.Thread | None = None

    def _want(self, version: int, sha256: str) -> bool:
        cur = self.current()
        return not (cur.version == version and (cur.sha256 or "") in ("", sha256))

    def apply(self, version: int, uri: str, sha256: str, raw: bytes | None = None) -> bool:
        """Swap to a version if it is not the one serving; returns whether it swapped."""
        if not self._want(version, sha256):
            return False
        predictor = self.swapper.try_build(version, uri, sha256, raw)
        if predictor is None:
            return False
        previous = self.current().version
        self.install(predictor)
        self.swapper.stats.swaps += 1
        log.info("swapped model v%d -> v%d", previous, version)
        return True

    def check_registry(self) -> bool:
        """Apply the registry's current pointer if it differs from what serves."""
        info: VersionInfo | None = self.registry.current(self.settings.model_name)
        if info is None:
            return False
        return self.apply(info.version, info.uri, info.sha256)

    def poll_updates(self, timeout_ms: int = 500) -> int:
        """Apply updates that arrived on the topic; returns how many were for this model."""
        n = 0
        for records in self.consumer.poll(timeout_ms=timeout_ms).values():
            for r in records:
                try:
                    update = ModelUpdate.model_validate_json(r.value)
                except ValueError as exc:
                    log.warning("ignoring an invalid model update at offset %d: %s", r.offset, exc)
                    continue
                if update.model != self.settings.model_name:
                    continue
                n += 1
                self.apply(update.version, update.uri, update.sha256, r.value)
        return n

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop``: topic first, registry every few seconds."""
        next_check = 0.0
        while not stop.is_set():
            try:
                self.poll_updates()
                if time.monotonic() >= next_check:
                    self.check_registry()
                    next_check = time.monotonic() + self.registry_every_s
            except Exception:  # a watcher error must never stop serving
                log.exception("model watcher error; the current version keeps serving")
                stop.wait(1.0)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run in a daemon thread."""
        self.thread = threading.Thread(target=self.run, args=(stop,), name="swap", daemon=True)
        self.thread.start()
        return self.thread


def refusal_reporter(settings: Settings, send: Callable[[str, bytes], object]) -> Refusal:
    """A :data:`Refusal` that produces a dead letter for the refused update."""

    def report(reason: str, raw: bytes | None) -> None:
        code, _, detail = reason.partition(": ")
        letter = dead_letter(
            Rejection(code, detail),
            topic=settings.topics.model_updates,
            partition=-1,
            offset=-1,
            raw=raw,
        )
        send(settings.topics.dead_letter, letter.to_bytes())

    return report
