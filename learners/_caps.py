"""Per-user caps: no single ``user_id`` may dominate a training batch.

Policy: a user over the cap is **down-weighted**, not dropped, so every acknowledged
example is still trained. The cap is on *weight*, not on counts: after capping, no
``user_id`` holds more than ``max_user_share`` of the batch's total training weight.
Counting examples is not enough: a feedback event declares its own ``weight`` (up to
100), so one account could send a few examples that each weigh a lot; and even at unit
weights, capping a user to ``share * n`` examples leaves them ``share / (share + rest)``
of the weight, more than ``share``.

The weights are found by water-filling: the heaviest users are capped one by one until
the next one is under the cap of the shrunken total. The share is out of reach when the
batch holds fewer than ``1 / max_user_share`` users and no anonymous weight (a batch
of three users cannot give each at most a quarter); then no user may outweigh another:
everyone is brought down to the lightest user's weight. Examples without a ``user_id``
are anonymous and never capped: there is no identity to cap them by.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from learners._examples import Example


@dataclass(frozen=True, slots=True)
class CapResult:
    """The examples kept and dropped by :func:`cap_per_user`, each in input order.

    ``user_weights`` gives each user's total weight after capping (heaviest first) and
    ``total_weight`` the weight of all kept examples, anonymous ones included.
    """

    kept: tuple[Example, ...]
    dropped: tuple[Example, ...]
    downweighted: tuple[str, ...] = ()
    user_weights: tuple[tuple[str, float], ...] = ()
    total_weight: float = 0.0

    @property
    def top_user_share(self) -> float | None:
        """The heaviest user's share of the total weight (``None`` without users)."""
        if not self.user_weights or self.total_weight <= 0:
            return None
        return self.user_weights[0][1] / self.total_weight


def user_cap(n: int, max_user_share: float) -> int:
    """Largest number of unit-weight examples that are ``max_user_share`` of ``n``.

    Examples
    --------
    >>> user_cap(10, 0.25), user_cap(3, 0.25), user_cap(10, 1.0)
    (2, 1, 10)
    """
    _check_share(max_user_share)
    # The epsilon keeps 0.3 * 10 at 3 despite binary floating point.
    return max(1, math.floor(max_user_share * n + 1e-9))


def _check_share(max_user_share: float) -> None:
    if not 0.0 < max_user_share <= 1.0:
        raise ValueError(f"max_user_share must lie in (0, 1], got {max_user_share}")


def capped_totals(
    totals: Mapping[str, float], anonymous: float, max_user_share: float
) -> dict[str, float]:
    """Each over-cap user's new total weight (users left as they are are not listed).

    ``totals`` is each user's weight in the batch and ``anonymous`` the weight of the
    examples with no user. Each listed user gets exactly ``max_user_share`` of the new
    total, or, when that is out of reach, the lightest user's weight.

    Examples
    --------
    >>> capped_totals({"spam": 6.0, "a": 1.0, "b": 1.0}, 4.0, 0.25)  # 2 of a total of 8
    {'spam': 2.0}
    >>> capped_totals({"a": 1.0, "b": 1.0}, 2.0, 0.25)
    {}
    >>> capped_totals({"spam": 6.0, "a": 1.0, "b": 2.0}, 0.0, 0.25)  # out of reach
    {'spam': 1.0, 'b': 1.0}
    """
    _check_share(max_user_share)
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    rest = anonymous + sum(totals.values())  # weight of everyone not capped yet
    capped: list[str] = []
    for user, weight in ranked:
        free = 1.0 - len(capped) * max_user_share
        if free <= 0:
            break
        # The total if the users capped so far each weigh ``share`` of it.
        if weight <= max_user_share * rest / free * (1 + 1e-12):
            break
        capped.append(user)
        rest -= weight
    if not capped:
        return {}
    free = 1.0 - len(capped) * max_user_share
    if rest <= 1e-12 * sum(totals.values()) or free <= 0:
        level = min(totals.values())
        return {u: level for u, _ in ranked if totals[u] > level}
    return dict.fromkeys(capped, max_user_share * rest / free)


def cap_per_user(batch: Sequence[Example], max_user_share: float) -> CapResult:
    """Down-weight users so none holds more than ``max_user_share`` of the batch's weight.

    An over-cap user keeps all their examples, scaled by one factor so their total is
    their capped weight: declared weights keep their proportions within the user, and
    nothing acknowledged goes untrained. ``dropped`` is kept for callers and is always
    empty.

    Examples
    --------
    >>> b = [Example(str(i), "t", "x", user_id="spam" if i < 4 else None) for i in range(6)]
    >>> r = cap_per_user(b, 0.5)  # spam's 4 weigh as much as the 2 anonymous together
    >>> [e.weight for e in r.kept], r.downweighted, r.top_user_share
    ([0.5, 0.5, 0.5, 0.5, 1.0, 1.0], ('0', '1', '2', '3'), 0.5)
    >>> heavy = [Example("h", "t", "x", user_id="spam", weight=100.0)]
    >>> r = cap_per_user(heavy + [Example(str(i), "t", "x", user_id=f"u{i}") for i in range(6)],
    ...                  0.25)
    >>> r.kept[0].weight, r.top_user_share  # 100 declared, 2 kept: 2 / (2 + 6)
    (2.0, 0.25)
    """
    _check_share(max_user_share)
    totals: defaultdict[str, float] = defaultdict(float)
    anonymous = 0.0
    for ex in batch:
        if ex.user_id is None:
            anonymous += ex.weight
        else:
            totals[ex.user_id] += ex.weight
    targets = capped_totals(totals, anonymous, max_user_share)
    scale = {u: t / totals[u] for u, t in targets.items() if t < totals[u]}
    kept: list[Example] = []
    down: list[str] = []
    for ex in batch:
        factor = scale.get(ex.user_id) if ex.user_id is not None else None
        if factor is None:
            kept.append(ex)
        else:
            kept.append(replace(ex, weight=ex.weight * factor))
            down.append(ex.event_id)
    after = {u: targets.get(u, w) for u, w in totals.items()}
    ranked = tuple(sorted(after.items(), key=lambda kv: (-kv[1], kv[0])))
    total = anonymous + sum(after.values())
    return CapResult(tuple(kept), (), tuple(down), ranked, total)
