"""evaluate layer: uplift metrics with bootstrap intervals, calibration, policy value, truth.

Inputs convention (every function here; details in :mod:`uplift_engine.evaluate.inputs`):
K+1 arms with codes 0..K, code 0 = control; ``treatment`` int array (n,); ``y`` float array
(n,), binary 0/1 or continuous (revenue); ``uplift`` float array (n, K), the predicted effect of
each offer; ``propensity`` optional (n, K+1) assignment probabilities (default: the observed
arm shares — a randomised design); ``truth`` optional (n, K+1) true expected outcome under every
arm; ``offers`` the K offer names. Per-pair functions (``qini_curve`` …) take one offer's
scores, a boolean ``treated`` (offer rows True, control rows False) and ``y``.
Definitions and comparisons with causalml and scikit-uplift: docs/metrics.md.
"""

from uplift_engine.evaluate.bootstrap import (
    bootstrap_interval,
    bootstrap_replicates,
    percentile_interval,
    resample_counts,
)
from uplift_engine.evaluate.bundle import evaluate_bundle
from uplift_engine.evaluate.calibration import CalibrationRow, calibration_by_decile
from uplift_engine.evaluate.curves import (
    PairCurves,
    auuc,
    auuc_coefficient,
    qini_area,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)
from uplift_engine.evaluate.estimate import Estimate
from uplift_engine.evaluate.evaluation import DEFAULT_KS, evaluate_uplift
from uplift_engine.evaluate.inputs import EvalInputs, check_inputs
from uplift_engine.evaluate.policy import (
    PolicyValue,
    fraction_of_oracle_gain,
    greedy_policy,
    oracle_policy,
    policy_gain,
    policy_value,
    value_from_truth,
)
from uplift_engine.evaluate.report import (
    EVALUATION_SCHEMA_VERSION,
    OfferReport,
    OfferTruth,
    PolicyReport,
    PolicyTruth,
    UpliftReport,
)
from uplift_engine.evaluate.selection import CandidateScore, SelectionReport, select_learner
from uplift_engine.evaluate.summary import summarize
from uplift_engine.evaluate.truth import effect_correlation, pehe, sign_agreement, true_effects
from uplift_engine.evaluate.truth_table import truth_matrix
from uplift_engine.evaluate.weighting import pair_weights

__all__ = [
    "DEFAULT_KS",
    "EVALUATION_SCHEMA_VERSION",
    "CalibrationRow",
    "CandidateScore",
    "Estimate",
    "EvalInputs",
    "OfferReport",
    "OfferTruth",
    "PairCurves",
    "PolicyReport",
    "PolicyTruth",
    "PolicyValue",
    "SelectionReport",
    "UpliftReport",
    "auuc",
    "auuc_coefficient",
    "bootstrap_interval",
    "bootstrap_replicates",
    "calibration_by_decile",
    "check_inputs",
    "effect_correlation",
    "evaluate_bundle",
    "evaluate_uplift",
    "fraction_of_oracle_gain",
    "greedy_policy",
    "oracle_policy",
    "pair_weights",
    "pehe",
    "percentile_interval",
    "policy_gain",
    "policy_value",
    "qini_area",
    "qini_coefficient",
    "qini_curve",
    "resample_counts",
    "select_learner",
    "sign_agreement",
    "summarize",
    "true_effects",
    "truth_matrix",
    "uplift_at_k",
    "uplift_curve",
    "value_from_truth",
]
