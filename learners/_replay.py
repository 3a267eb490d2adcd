"""Replay against forgetting: a seeded reservoir per label, sampled with labels balanced.

Each label keeps a uniform sample of its own stream (reservoir sampling, Algorithm R),
so a rare label is not crowded out by a frequent one. The capacity is shared equally
among the labels seen; when a new label arrives, the larger reservoirs shrink by
random eviction. Sampling picks labels round-robin in a shuffled order, then an item
uniformly within the label, so a replayed batch is as balanced as the buffer allows.
"""

from __future__ import annotations

from collections.abc import Iterable

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
