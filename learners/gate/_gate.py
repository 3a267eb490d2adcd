"""The validation gate: a challenger is published only if it is not worse than the champion."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict

from learners.gate._holdout import Holdout, HoldoutSet
from learners.gate._metrics import Metrics, Scores, evaluate

T = TypeVar("T")

#: Whether the challenger's weights are finite: a flag, a callable, or the arrays.
WeightsCheck = bool | Callable[[], bool] | Iterable[ArrayLike]


@dataclass(frozen=True)
class EvalSet:
    """Champion's and challenger's scores on one set of labelled examples."""

    y_true: Sequence[str]
    champion: Scores
    challenger: Scores


class GateDecision(BaseModel):
    """A gate decision, to be recorded whether accepted or not.

    ``reason`` starts with a stable code (``accepted``, ``non_finite_weights``,
    ``non_finite_loss``, ``insufficient_holdout``, ``worse_accuracy``,
    ``worse_log_loss``, ``below_trusted_floor``), then ``": "`` and detail. ``metrics`` holds
    ``{"champion": {...}, "challenger": {...}}`` with keys such as
    ``recent.accuracy``, ``recent.log_loss``, ``recent.n`` and ``trusted.*``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    accepted: bool
    reason: str
    metrics: dict[str, dict[str, float]]

    def flat_metrics(self) -> dict[str, float]:
        """Metrics as one flat dict (``challenger.recent.accuracy``...), e.g. for ModelUpdate."""
        return {f"{who}.{k}": v for who, m in self.metrics.items() for k, v in m.items()}


def _weights_finite(weights: WeightsCheck) -> bool:
    if isinstance(weights, bool):
        return weights
    if callable(weights):
        return bool(weights())
    return all(bool(np.isfinite(np.asarray(w, dtype=np.float64)).all()) for w in weights)


class ValidationGate:
    """Compares a challenger with the champion on the holdout and decides publication.

    The challenger is accepted only if, on the recent window and on the trusted set
    if there is one, its accuracy is not lower than the champion's by more than
    ``accuracy_margin`` and its log-loss not higher by more than ``log_loss_margin``.
    It is always rejected if its weights, its training loss or its holdout metrics
    are not finite, or if the recent window has fewer than ``min_examples``.

    A trusted set also keeps a floor: the best trusted accuracy any published version
    reached (:meth:`raise_floor`). A challenger more than ``accuracy_margin`` below it is
    rejected, so a run of candidates each just within the margin of the one before
    cannot ratchet the served quality down.

    Parameters
    ----------
    accuracy_margin
        Tolerated accuracy drop (absolute, e.g. 0.02 = two points).
    log_loss_margin
        Tolerated log-loss increase in nats; ``None`` ignores log-loss.
    min_examples
        Minimum size of the recent window for any decision but a rejection.

    Examples
    --------
    >>> gate = ValidationGate()
    >>> champ = Scores.of([[0.8, 0.2]] * 20, ["neg", "pos"])
    >>> chall = Scores.of([[0.1, 0.9]] * 20, ["neg", "pos"])
    >>> decision = gate.decide(EvalSet(["neg"] * 20, champ, chall), weights=True)
    >>> decision.accepted, decision.reason.split(":")[0]
    (False, 'worse_accuracy')
    """

    def __init__(
        self,
        accuracy_margin: float = 0.02,
        log_loss_margin: float | None = 0.1,
        min_examples: int = 20,
    ) -> None:
        if accuracy_margin < 0 or (log_loss_margin is not None and log_loss_margin < 0):
            raise ValueError("margins must be >= 0")
        if min_examples < 1:
            raise ValueError(f"min_examples must be >= 1, got {min_examples}")
        self.accuracy_margin = accuracy_margin
        self.log_loss_margin = log_loss_margin
        self.min_examples = min_examples
        #: Best trusted accuracy of a published version; ``None`` until one is known.
        self.trusted_floor: float | None = None

    def raise_floor(self, decision: GateDecision) -> float | None:
        """Raise :attr:`trusted_floor` with an accepted decision's trusted accuracies.

        Examples
        --------
        >>> gate = ValidationGate()
        >>> d = GateDecision(accepted=True, reason="accepted", metrics={
        ...     "champion": {"trusted.accuracy": 0.8}, "challenger": {"trusted.accuracy": 0.84}})
        >>> gate.raise_floor(d)
        0.84
        """
        for who in ("champion", "challenger"):
            acc = decision.metrics.get(who, {}).get("trusted.accuracy")
            if acc is not None and math.isfinite(acc):
                self.trusted_floor = max(self.trusted_floor or 0.0, acc)
        return self.trusted_floor

    def decide(
        self,
        recent: EvalSet,
        trusted: EvalSet | None = None,
        *,
        weights: WeightsCheck,
        train_loss: float | None = None,
        after_drift: bool = False,
    ) -> GateDecision:
        """Decide on one challenger.

        Parameters
        ----------
        recent
            Scores on the recent holdout window.
        trusted
            Scores on the trusted set, if any.
        weights
            ``True``/``False``, a callable returning it, or the challenger's weight
            arrays (anything ``numpy.asarray`` takes, CPU tensors included).
        train_loss
            The challenger's last training loss, if known.
        after_drift
            ``recent`` holds only what came after a detected drift, which the champion
            failed. There a challenger that is more accurate is not held back by its
            log-loss: mid-adaptation its probabilities lag its decisions, and the
            champion it would replace is the one the drift was detected on.
        """
        sets = {"recent": recent} | ({"trusted": trusted} if trusted is not None else {})
        measured = {
            name: (evaluate(s.champion, s.y_true), evaluate(s.challenger, s.y_true))
            for name, s in sets.items()
        }
        metrics: dict[str, dict[str, float]] = {"champion": {}, "challenger": {}}
        for name, (champ, chall) in measured.items():
            for who, m in (("champion", champ), ("challenger", chall)):
                metrics[who].update(
                    {
                        f"{name}.accuracy": m.accuracy,
                        f"{name}.log_loss": m.log_loss,
                        f"{name}.n": float(m.n),
                    }
                )
        if train_loss is not None:
            metrics["challenger"]["train_loss"] = float(train_loss)

        def decision(accepted: bool, reason: str) -> GateDecision:
            return GateDecision(accepted=accepted, reason=reason, metrics=metrics)

        if not _weights_finite(weights):
            return decision(False, "non_finite_weights: a weight is NaN or infinite")
        if train_loss is not None and not math.isfinite(train_loss):
            return decision(False, f"non_finite_loss: training loss is {train_loss}")
        n_recent = measured["recent"][1].n
        if n_recent < self.min_examples:
            return decision(
                False, f"insufficient_holdout: {n_recent} < {self.min_examples} examples"
            )
        for name, (champ, chall) in measured.items():
            if not chall.finite:
                return decision(False, f"non_finite_loss: challenger metrics on {name}")
            adapting = after_drift and name == "recent" and chall.accuracy > champ.accuracy
            verdict = self._compare(name, champ, chall, log_loss=not adapting)
            if verdict is not None:
                return decision(False, verdict)
        floor = self.trusted_floor
        if "trusted" in measured and floor is not None:
            acc = measured["trusted"][1].accuracy
            if acc < floor - self.accuracy_margin:
                return decision(
                    False,
                    f"below_trusted_floor: {acc:.4f} < best published {floor:.4f} "
                    f"- {self.accuracy_margin}",
                )
        return decision(True, "accepted: not worse than the champion within the margins")

    def _compare(
        self, name: str, champ: Metrics, chall: Metrics, *, log_loss: bool = True
    ) -> str | None:
        if not champ.finite:  # a broken champion cannot hold a challenger back
            return None
        if chall.accuracy < champ.accuracy - self.accuracy_margin:
            return (
                f"worse_accuracy: on {name}, {chall.accuracy:.4f} < "
                f"{champ.accuracy:.4f} - {self.accuracy_margin}"
            )
        if (
            log_loss
            and self.log_loss_margin is not None
            and chall.log_loss > champ.log_loss + self.log_loss_margin
        ):
            return (
                f"worse_log_loss: on {name}, {chall.log_loss:.4f} > "
                f"{champ.log_loss:.4f} + {self.log_loss_margin}"
            )
        return None

    def decide_on(
        self,
        holdout: Holdout[T],
        champion: Callable[[Sequence[T]], Scores],
        challenger: Callable[[Sequence[T]], Scores],
        *,
        weights: WeightsCheck,
        train_loss: float | None = None,
    ) -> GateDecision:
        """Score both models on ``holdout`` (recent window and trusted set), then decide."""

        def scored(subset: HoldoutSet[T]) -> EvalSet:
            return EvalSet(subset.labels, champion(subset.examples), challenger(subset.examples))

        trusted = holdout.trusted
        return self.decide(
            scored(holdout.recent()),
            scored(trusted) if trusted is not None else None,
            weights=weights,
            train_loss=train_loss,
        )
