"""What one bench run measures, and how big it is: one frozen configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from learners import SCOPES, Scope

#: Worker settings the bench changes from the defaults, in the in-process replay and in the
#: real run alike: candidates every 200 trained examples (the default 500 would publish
#: about once per stream here), a checkpoint every 100.
WORKER_OVERRIDES: dict[str, Any] = {
    "checkpoint_every_examples": 100,
    "publish_every_examples": 200,
}

#: Streams the bench knows; ``gradual`` is optional.
BENCH_STREAMS = ("natural", "abrupt", "gradual")

#: Systems besides streamtune; each runs on every stream.
BASELINES = (
    "static_v0",
    "static_first_window",
    "frozen_river",
    "river",
    "periodic_equal_compute",
    "periodic_fixed",
)


@dataclass(frozen=True)
class BenchConfig:
    """One bench run.

    Parameters
    ----------
    streams
        Stream names, from :data:`BENCH_STREAMS`.
    events
        Events per stream (``natural``: the first ``events`` tweets of the demo outlets from
        the demo start; ``abrupt``/``gradual``: the stream length, change in the middle).
    scopes
        streamtune scopes to replay in-process.
    deep_events
        ``top_k`` and ``full`` train at ~10-40 examples/s on CPU: they replay only this
        many events (the first of each stream; ``abrupt`` is then rebuilt with this length so
        it still changes in the middle). ``None``: the whole stream.
    rate
        Events per second the replay assumes (virtual clock of the in-process replay, and
        the rate the real run produces at).
    delay
        Feedback arrives ``delay`` events after its text.
    window
        Window of the by-window scores and of the recovery measure (events).
    periodic_every
        ``periodic_fixed`` retrains every this many labels (whatever its compute).
    real_events
        Events of the real-system run (0 skips it).
    real_settle_s
        After the real run's last label, how long to wait for a publication that includes
        it (``None``: the scheduled publication interval plus 10 s; 0: do not wait).
    seed, threads
        Stream seed; torch threads of this process.
    out_dir
        Where ``bench.json`` and the PNGs go (``None``: write nothing).
    worker
        Worker settings (``Settings`` field names) for the replay and the real run.
    baselines
        Baselines to run, from :data:`BASELINES`.

    Examples
    --------
    >>> BenchConfig().batch
    10
    >>> BenchConfig(streams=("sudden",))
    Traceback (most recent call last):
    ...
    ValueError: unknown stream 'sudden'; valid: natural, abrupt, gradual
    """

    streams: tuple[str, ...] = ("natural", "abrupt")
    events: int = 1600
    scopes: tuple[Scope, ...] = SCOPES
    deep_events: int | None = 400
    rate: float = 20.0
    delay: int = 20
    window: int = 100
    periodic_every: int = 200
    real_events: int = 400
    real_settle_s: float | None = None
    seed: int = 0
    threads: int = 2
    out_dir: str | None = "benchmarks/results/bench"
    worker: dict[str, Any] = field(default_factory=lambda: dict(WORKER_OVERRIDES))
    baselines: tuple[str, ...] = BASELINES

    def __post_init__(self) -> None:
        for name in self.streams:
            if name not in BENCH_STREAMS:
                raise ValueError(f"unknown stream {name!r}; valid: {', '.join(BENCH_STREAMS)}")
        for scope in self.scopes:
            if scope not in SCOPES:
                raise ValueError(f"unknown scope {scope!r}; valid: {', '.join(SCOPES)}")
        for name in self.baselines:
            if name not in BASELINES:
                raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")
        if self.events < 2 * self.window or self.delay < 0 or self.rate <= 0:
            raise ValueError("need events >= 2 * window, delay >= 0 and rate > 0")

    @property
    def batch(self) -> int:
        """Feedback per worker micro-batch: what ``take(max_batch, within=max_wait)`` gathers.

        At ``rate`` events/s the worker's default 500 ms wait collects ``rate / 2`` labels.
        """
        wait_s = float(self.worker.get("worker_max_wait_ms", 500)) / 1000
        cap = int(self.worker.get("worker_max_batch", 64))
        return max(1, min(cap, round(self.rate * wait_s)))

    def events_for(self, scope: Scope | None) -> int:
        """Events a system replays: ``deep_events`` for ``top_k``/``full``."""
        if scope in ("top_k", "full") and self.deep_events is not None:
            return min(self.events, self.deep_events)
        return self.events
