"""The holdout: recent labelled examples kept out of training, plus an optional trusted set."""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class HoldoutPolicy:
    """Deterministic choice of which labelled examples are held out from training.

    An example is held out when ``blake2b(event_id) mod modulus == residue``, so a
    replay of the same feedback makes the same choice (Python's ``hash`` is salted
    per process and would not).

    Examples
    --------
    >>> policy = HoldoutPolicy(modulus=10)
    >>> sum(policy.holds_out(f"e{i}") for i in range(1000))
    101
    """

    modulus: int = 10
    residue: int = 0

    def __post_init__(self) -> None:
        if self.modulus < 1 or not 0 <= self.residue < self.modulus:
            raise ValueError(f"need modulus >= 1 and 0 <= residue < modulus, got {self}")

    def holds_out(self, event_id: str) -> bool:
        """Whether the example of ``event_id`` goes to the holdout rather than training."""
        digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.modulus == self.residue


@dataclass(frozen=True)
class HoldoutSet(Generic[T]):
    """Examples and their labels, in the same order."""

    examples: tuple[T, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


class Holdout(Generic[T]):
    """A bounded window of the most recent held-out examples, plus a fixed trusted set.

    :meth:`offer` each labelled example: it returns ``True`` when the example is held
    out (do not train on it). An event id offered again (a replay) is not stored twice.

    Parameters
    ----------
    policy
        Which examples are held out.
    max_size
        The recent window keeps at most this many examples (the oldest go first).
    trusted
        A fixed, curated ``(example, label)`` set the challenger must not get worse on.

    Examples
    --------
    >>> holdout = Holdout[str](HoldoutPolicy(modulus=2), max_size=3)
    >>> [holdout.offer(f"e{i}", f"text {i}", "pos") for i in range(6)]
    [True, True, True, False, False, True]
    >>> holdout.recent().examples
    ('text 1', 'text 2', 'text 5')
    """

    def __init__(
        self,
        policy: HoldoutPolicy | None = None,
        max_size: int = 500,
        trusted: Iterable[tuple[T, str]] = (),
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        self.policy = policy if policy is not None else HoldoutPolicy()
        self.max_size = max_size
        pairs = list(trusted)
        self.trusted: HoldoutSet[T] | None = (
            HoldoutSet(tuple(e for e, _ in pairs), tuple(label for _, label in pairs))
            if pairs
            else None
        )
        self._recent: collections.OrderedDict[str, tuple[T, str]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._recent)

    def offer(self, event_id: str, example: T, label: str) -> bool:
        """Hold the example out (and return ``True``) if the policy says so."""
        if not self.policy.holds_out(event_id):
            return False
        if event_id not in self._recent:
            self._recent[event_id] = (example, label)
            if len(self._recent) > self.max_size:
                self._recent.popitem(last=False)
        return True

    def recent(self, limit: int | None = None) -> HoldoutSet[T]:
        """The recent window, oldest first; only the newest ``limit`` if given."""
        items = list(self._recent.values())
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return HoldoutSet(tuple(e for e, _ in items), tuple(label for _, label in items))
