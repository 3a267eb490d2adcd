"""KSWIN on label-free input statistics, with a larger alpha as warning."""

from __future__ import annotations

from river.drift import KSWIN

from learners.drift._base import SignalDetector


class KswinDetector(SignalDetector):
    """KSWIN (River's ``drift.KSWIN``): a change in a signal's distribution.

    For signals that need no label, such as the confidence of each prediction or the
    distance of each input's embedding to a reference window, so drift is caught
    before any feedback arrives. KSWIN has no warning zone, so the warning level is
    a twin with the larger ``warning_alpha``. Both twins share ``seed``, so a replay
    gives the same detections.

    KSWIN runs a two-sample Kolmogorov-Smirnov test on every observation (about
    1.5 ms on this machine with the default sizes). River's default
    ``alpha=0.005`` raises false alarms every few thousand observations; at
    ``alpha=1e-5`` no false alarm was seen on 3 × 10,000 stationary confidences,
    and a change of the confidence distribution from Beta(8, 2) to Beta(4, 4) is
    detected after about 20 observations.

    Parameters
    ----------
    alpha
        Significance of the drift level (River's ``alpha``).
    warning_alpha
        Significance of the warning twin; larger than ``alpha``.
    window_size
        Sliding window length (River's ``window_size``).
    stat_size
        Length of the recent sub-window tested (River's ``stat_size``).
    seed
        Seed of the sub-sampling of the older part of the window.
    warm_up
        Observations before any detection is reported.

    Examples
    --------
    >>> detector = KswinDetector()
    >>> stream = [0.9, 0.8, 0.95, 0.85] * 50 + [0.5, 0.4, 0.6, 0.45] * 25
    >>> [i for i, x in enumerate(stream) if detector.update(x) or detector.drift_detected]
    [218]
    """

    def __init__(
        self,
        alpha: float = 1e-5,
        warning_alpha: float = 1e-3,
        window_size: int = 100,
        stat_size: int = 30,
        seed: int = 42,
        warm_up: int = 30,
    ) -> None:
        super().__init__(warm_up=warm_up)
        if not 0.0 < alpha <= warning_alpha < 1.0:
            raise ValueError(
                f"need 0 < alpha <= warning_alpha < 1, got alpha={alpha}, "
                f"warning_alpha={warning_alpha}"
            )
        self.alpha = alpha
        self.warning_alpha = warning_alpha
        self.window_size = window_size
        self.stat_size = stat_size
        self.seed = seed
        self._reset()

    def _make(self, alpha: float) -> KSWIN:
        return KSWIN(
            alpha=alpha, window_size=self.window_size, stat_size=self.stat_size, seed=self.seed
        )

    def _reset(self) -> None:
        super()._reset()
        self._main = self._make(self.alpha)
        self._twin = self._make(self.warning_alpha)

    def _step(self, x: float) -> tuple[bool, bool]:
        self._main.update(x)
        self._twin.update(x)
        return bool(self._twin.drift_detected), bool(self._main.drift_detected)
