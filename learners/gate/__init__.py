"""The validation gate, the holdout, the publication policy and automatic rollback.

Pure logic: probability matrices and labels in, decisions out.
"""

from learners.gate._gate import EvalSet, GateDecision, ValidationGate, WeightsCheck
from learners.gate._holdout import Holdout, HoldoutPolicy, HoldoutSet
from learners.gate._metrics import EPS, Metrics, Scores, evaluate
from learners.gate._policy import CandidateReason, PublicationPolicy
from learners.gate._rollback import RollbackDecision, RollbackMonitor, one_sided_z_test

__all__ = [
    "EPS",
    "CandidateReason",
    "EvalSet",
    "GateDecision",
    "Holdout",
    "HoldoutPolicy",
    "HoldoutSet",
    "Metrics",
    "PublicationPolicy",
    "RollbackDecision",
    "RollbackMonitor",
    "Scores",
    "ValidationGate",
    "WeightsCheck",
    "evaluate",
    "one_sided_z_test",
]
