"""Per-user caps: no single ``user_id`` may dominate a training batch.

Policy: a user over the cap is **down-weighted**, not dropped: their examples together
weigh as much as ``cap`` examples, so a flood from one account cannot steer a step, yet
every acknowledged example is trained. The cap is ``max(1, floor(max_user_share * n))``
examples per user, where ``n`` is the size of the incoming batch. Examples without a
``user_id`` are anonymous and never capped: there is no identity to cap them by.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from learners._examples import Example


@dataclass(frozen=True, slots=True)
class CapResult:
    """The examples kept and dropped by :func:`cap_per_user`, each in input order."""

    kept: tuple[Example, ...]
    dropped: tuple[Example, ...]
    downweighted: tuple[str, ...] = ()


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
    """Down-weight each user's examples beyond :func:`user_cap` of the batch.

    A user with ``c > cap`` examples keeps them all, each at ``weight * cap / c``: their
    total influence on the step is that of ``cap`` examples, and every example is still
    trained (nothing acknowledged goes untrained). ``dropped`` is kept for callers and is
    always empty.

    Examples
    --------
    >>> b = [Example(str(i), "t", "x", user_id="spam" if i < 4 else None) for i in range(6)]
    >>> r = cap_per_user(b, 0.5)
    >>> [e.weight for e in r.kept], r.downweighted
    ([0.75, 0.75, 0.75, 0.75, 1.0, 1.0], ('0', '1', '2', '3'))
    """
    cap = user_cap(len(batch), max_user_share) if batch else 0
    counts = Counter(ex.user_id for ex in batch if ex.user_id is not None)
    kept: list[Example] = []
    down: list[str] = []
    for ex in batch:
        c = counts.get(ex.user_id, 0) if ex.user_id is not None else 0
        if c > cap:
            kept.append(replace(ex, weight=ex.weight * cap / c))
            down.append(ex.event_id)
        else:
            kept.append(ex)
    return CapResult(tuple(kept), (), tuple(down))
