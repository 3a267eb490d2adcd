"""Per-user caps: no single ``user_id`` may dominate a training batch.

Policy: examples over the cap are **dropped** (not down-weighted), keeping each user's
earliest examples in stream order, so a flood from one account cannot steer a step.
The cap is ``max(1, floor(max_user_share * n))`` examples per user, where ``n`` is the
size of the incoming batch. Examples without a ``user_id`` are anonymous and never capped:
there is no identity to cap them by.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from learners._examples import Example


@dataclass(frozen=True, slots=True)
class CapResult:
    """The examples kept and dropped by :func:`cap_per_user`, each in input order."""

    kept: tuple[Example, ...]
    dropped: tuple[Example, ...]


def user_cap(n: int, max_user_share: float) -> int:
    """Largest number of examples one user may have in a batch of ``n``.

    Examples
    --------
    >>> user_cap(10, 0.25), user_cap(3, 0.25), user_cap(10, 1.0)
    (2, 1, 10)
    """
    if not 0.0 < max_user_share <= 1.0:
        raise ValueError(f"max_user_share must lie in (0, 1], got {max_user_share}")
    # The epsilon keeps 0.3 * 10 at 3 despite binary floating point.
    return max(1, math.floor(max_user_share * n + 1e-9))


def cap_per_user(batch: Sequence[Example], max_user_share: float) -> CapResult:
    """Drop each user's examples beyond :func:`user_cap` of the batch.

    Examples
    --------
    >>> b = [Example(str(i), "t", "x", user_id="spam" if i < 4 else None) for i in range(6)]
    >>> r = cap_per_user(b, 0.5)
    >>> [e.event_id for e in r.kept], [e.event_id for e in r.dropped]
    (['0', '1', '2', '4', '5'], ['3'])
    """
    cap = user_cap(len(batch), max_user_share) if batch else 0
    counts: Counter[str] = Counter()
    kept: list[Example] = []
    dropped: list[Example] = []
    for ex in batch:
        if ex.user_id is None:
            kept.append(ex)
            continue
        counts[ex.user_id] += 1
        (kept if counts[ex.user_id] <= cap else dropped).append(ex)
    return CapResult(tuple(kept), tuple(dropped))
