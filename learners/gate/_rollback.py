"""Automatic rollback when the published version is significantly worse than its predecessor."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RollbackDecision:
    """The outcome of a one-sided two-proportion z-test of live error rates.

    ``rollback`` is true when the published version's error rate is significantly
    higher than its predecessor's (``p_value < alpha``, both with enough samples).
    """

    rollback: bool
    reason: str
    published_version: int
    predecessor_version: int
    published_error: float
    predecessor_error: float
    published_n: int
    predecessor_n: int
    z: float
    p_value: float


def one_sided_z_test(errors_a: int, n_a: int, errors_b: int, n_b: int) -> tuple[float, float]:
    """Pooled two-proportion z statistic and p-value of H1: rate(a) > rate(b).

    Examples
    --------
    >>> z, p = one_sided_z_test(30, 100, 10, 100)
    >>> round(z, 3), round(p, 5)
    (3.536, 0.0002)
    """
    pooled = (errors_a + errors_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0.0:  # all right or all wrong on both sides: no evidence either way
        return 0.0, 1.0
    z = (errors_a / n_a - errors_b / n_b) / se
    return z, 0.5 * math.erfc(z / math.sqrt(2))


class RollbackMonitor:
    """Tracks the live 0/1 errors of the published version and of its predecessor.

    Call :meth:`begin` when a version is published, :meth:`update` with each
    prediction's error once its feedback arrives (feedback on the predecessor's
    predictions may still arrive after the swap), and :meth:`check` to decide.
    Each version keeps its last ``window`` errors; the predecessor's window is
    carried over from before the swap.

    The test is repeated as feedback arrives, which inflates the false-alarm rate
    over a plain single test; keep ``alpha`` small and ``min_samples`` high enough.

    Parameters
    ----------
    window
        Errors kept per version.
    min_samples
        Both versions need at least this many errors before any rollback.
    alpha
        Significance of the one-sided test.

    Examples
    --------
    >>> monitor = RollbackMonitor(window=200, min_samples=50, alpha=0.01)
    >>> for i in range(100):
    ...     monitor.update(1, i % 10 == 0)
    >>> monitor.begin(published_version=2, predecessor_version=1)
    >>> for i in range(100):
    ...     monitor.update(2, i % 2 == 0)
    >>> decision = monitor.check()
    >>> decision.rollback, decision.published_error, decision.predecessor_error
    (True, 0.5, 0.1)
    """

    def __init__(self, window: int = 500, min_samples: int = 100, alpha: float = 0.01) -> None:
        if min_samples < 1 or window < min_samples:
            raise ValueError(f"need 1 <= min_samples <= window, got {min_samples}, {window}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.window = window
        self.min_samples = min_samples
        self.alpha = alpha
        self._errors: dict[int, collections.deque[bool]] = {}
        self._published: int | None = None
        self._predecessor: int | None = None

    def begin(self, published_version: int, predecessor_version: int) -> None:
        """A new version serves; compare it with ``predecessor_version`` from now on."""
        self._published = published_version
        self._predecessor = predecessor_version
        # Only the two compared versions matter; older ones are dropped.
        self._errors = {
            v: self._errors.get(v, collections.deque(maxlen=self.window))
            for v in (predecessor_version, published_version)
        }
        self._errors[published_version].clear()

    def update(self, version: int, error: bool) -> None:
        """Record the 0/1 error of one prediction made by ``version``."""
        if self._published is None or version in self._errors:
            self._errors.setdefault(version, collections.deque(maxlen=self.window))
            self._errors[version].append(bool(error))

    def check(self) -> RollbackDecision:
        """Test whether the published version is significantly worse than its predecessor."""
        if self._published is None or self._predecessor is None:
            raise RuntimeError("no published version: call begin() first")
        pub, pred = self._errors[self._published], self._errors[self._predecessor]
        n_pub, n_pred = len(pub), len(pred)
        e_pub, e_pred = sum(pub), sum(pred)
        rate_pub = e_pub / n_pub if n_pub else math.nan
        rate_pred = e_pred / n_pred if n_pred else math.nan
        if min(n_pub, n_pred) < self.min_samples:
            z, p = 0.0, 1.0
            rollback = False
            reason = f"insufficient_samples: {n_pub} and {n_pred} < {self.min_samples}"
        else:
            z, p = one_sided_z_test(e_pub, n_pub, e_pred, n_pred)
            rollback = p < self.alpha
            verb = "worse" if rollback else "not significantly worse"
            reason = (
                f"{'degraded' if rollback else 'ok'}: error {rate_pub:.4f} vs "
                f"{rate_pred:.4f}, {verb} (p={p:.3g}, alpha={self.alpha})"
            )
        return RollbackDecision(
            rollback,
            reason,
            self._published,
            self._predecessor,
            rate_pub,
            rate_pred,
            n_pub,
            n_pred,
            z,
            p,
        )
