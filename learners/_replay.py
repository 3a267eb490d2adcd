"""Replay against forgetting: a seeded reservoir per label, sampled with labels balanced.

Each label keeps a uniform sample of its own stream (reservoir sampling, Algorithm R),
so a rare label is not crowded out by a frequent one. The capacity is shared equally
among the labels seen; when a new label arrives, the larger reservoirs shrink by
random eviction. Sampling picks labels round-robin in a shuffled order, then an item
uniformly within the label, so a replayed batch is as balanced as the buffer allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from learners._examples import Example


class ReplayBuffer:
    """Per-label reservoirs sharing ``capacity`` slots, driven by one seeded generator.

    Examples
    --------
    >>> buf = ReplayBuffer(capacity=4, seed=0)
    >>> buf.add(Example(str(i), "t", "a") for i in range(100))
    >>> buf.add([Example("b1", "t", "b")])
    >>> len(buf), buf.counts()
    (3, {'a': 2, 'b': 1})
    >>> sorted(e.label for e in buf.sample(4))
    ['a', 'a', 'b', 'b']
    """

    def __init__(self, capacity: int, seed: int = 0) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._items: dict[str, list[Example]] = {}
        self._seen: dict[str, int] = {}

    def __len__(self) -> int:
        return sum(len(items) for items in self._items.values())

    def counts(self) -> dict[str, int]:
        """Items held per label."""
        return {label: len(items) for label, items in self._items.items()}

    def _per_label(self) -> int:
        return self.capacity // max(1, len(self._items))

    def add(self, examples: Iterable[Example]) -> None:
        """Offer examples to their label's reservoir."""
        if self.capacity == 0:
            return
        for ex in examples:
            if ex.label not in self._items:
                self._items[ex.label] = []
                self._seen[ex.label] = 0
                self._shrink()
            cap = self._per_label()
            items = self._items[ex.label]
            self._seen[ex.label] += 1
            if len(items) < cap:
                items.append(ex)
            elif cap > 0:
                j = int(self._rng.integers(0, self._seen[ex.label]))
                if j < cap:
                    items[j] = ex

    def _shrink(self) -> None:
        cap = self._per_label()
        for label, items in self._items.items():
            if len(items) > cap:
                keep = np.sort(self._rng.choice(len(items), size=cap, replace=False))
                self._items[label] = [items[int(i)] for i in keep]

    def sample(self, k: int) -> list[Example]:
        """Up to ``k`` items, drawn with replacement, labels as balanced as possible."""
        labels = [label for label, items in self._items.items() if items]
        if k <= 0 or not labels:
            return []
        order = [labels[int(i)] for i in self._rng.permutation(len(labels))]
        out: list[Example] = []
        for n in range(k):
            items = self._items[order[n % len(order)]]
            out.append(items[int(self._rng.integers(0, len(items)))])
        return out

    def to_state(self) -> tuple[dict[str, Any], np.ndarray]:
        """The buffer as JSON-able data plus the stacked embeddings (float32, ``(n, dim)``).

        Items keep their label order and position, and the generator its state, so a
        buffer rebuilt by :meth:`from_state` samples and evicts exactly as this one would.
        An item without an embedding has ``"embedding": null``.

        Examples
        --------
        >>> buf = ReplayBuffer(capacity=4, seed=0)
        >>> buf.add(Example(str(i), "t", "a") for i in range(10))
        >>> meta, emb = buf.to_state()
        >>> again = ReplayBuffer.from_state(meta, emb)
        >>> [e.event_id for e in again.sample(3)] == [e.event_id for e in buf.sample(3)]
        True
        """
        rows: list[np.ndarray] = []
        items: dict[str, list[dict[str, Any]]] = {}
        for label, examples in self._items.items():
            items[label] = []
            for ex in examples:
                row = None
                if ex.embedding is not None:
                    row = len(rows)
                    rows.append(np.asarray(ex.embedding, dtype=np.float32))
                items[label].append(
                    {
                        "event_id": ex.event_id,
                        "text": ex.text,
                        "user_id": ex.user_id,
                        "weight": ex.weight,
                        "model_version": ex.model_version,
                        "embedding": row,
                    }
                )
        meta = {
            "capacity": self.capacity,
            "seed": self.seed,
            "seen": dict(self._seen),
            "items": items,
            "rng": self._rng.bit_generator.state,
        }
        dim = rows[0].shape[0] if rows else 0
        return meta, np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)

    @classmethod
    def from_state(cls, meta: dict[str, Any], embeddings: np.ndarray) -> ReplayBuffer:
        """Rebuild a buffer from :meth:`to_state`; raises ``ValueError`` if inconsistent."""
        try:
            buf = cls(int(meta["capacity"]), int(meta["seed"]))
            buf._rng.bit_generator.state = meta["rng"]

            def emb(row: int | None) -> np.ndarray | None:
                return None if row is None else embeddings[int(row)]

            for label, entries in meta["items"].items():
                buf._items[label] = [
                    Example(
                        str(e["event_id"]),
                        str(e["text"]),
                        label,
                        embedding=emb(e["embedding"]),
                        user_id=e["user_id"],
                        weight=float(e["weight"]),
                        model_version=int(e["model_version"]),
                    )
                    for e in entries
                ]
                buf._seen[label] = int(meta["seen"][label])
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"inconsistent replay state: {exc!r}") from exc
        if len(buf) > buf.capacity:
            raise ValueError(f"replay state holds {len(buf)} items over capacity {buf.capacity}")
        return buf
