"""The evaluation report: what ``uplift evaluate`` prints and writes, as plain dataclasses.

Invariant: ``UpliftReport.to_dict()`` is JSON-ready (undefined numbers are ``null``), carries
``"schema_version": "uplift.evaluation/1"`` and keeps offers in their input order. Every metric
is an ``{"value", "low", "high"}`` object; intervals are stated in ``"intervals"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from uplift_engine.evaluate.calibration import CalibrationRow
from uplift_engine.evaluate.curves import CURVE_GRID
from uplift_engine.evaluate.estimate import Estimate, json_number
from uplift_engine.evaluate.policy import PolicyValue

EVALUATION_SCHEMA_VERSION = "uplift.evaluation/1"
POLICY_RULE = (
    "each customer gets the offer with the largest predicted uplift if it is > 0, else control"
)


@dataclass(frozen=True)
class OfferTruth:
    """Predicted against true effects of one offer (simulated data)."""

    pehe: float
    effect_correlation: float
    sign_agreement: float
    true_mean_effect: float
    predicted_mean_effect: float
    interval_coverage: float = math.nan
    """Share of rows whose true effect lies within the model's interval (NaN: no intervals)."""
    interval_width: float = math.nan
    conditional_pehe: float = math.nan
    """PEHE against the conditional effect (the simulator's ``expected_*``; NaN: not given)."""
    conditional_correlation: float = math.nan
    conditional_interval_coverage: float = math.nan

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready numbers (NaN = not measured → null)."""
        return {k: json_number(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class OfferReport:
    """Metrics of one offer against control."""

    offer: str
    arm: int
    n_treated: int
    n_control: int
    observed_uplift: Estimate  # mean(y|offer) − mean(y|control), Welch normal interval
    qini_coefficient: Estimate
    qini_area: Estimate
    auuc: Estimate
    auuc_coefficient: Estimate
    auuc_random: float
    uplift_at_k: dict[float, Estimate]
    calibration: list[CalibrationRow]
    compat: dict[str, float]
    truth: OfferTruth | None = None
    curves: dict[str, list[Estimate]] | None = None
    """The Qini and cumulative-gain (uplift) curves at :data:`~.curves.CURVE_GRID`'s fractions
    targeted, each point with its bootstrap interval: ``{"qini": [...], "gain": [...]}``."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "arm": self.arm,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "observed_uplift": self.observed_uplift.to_dict(),
            "qini_coefficient": self.qini_coefficient.to_dict(),
            "qini_area": self.qini_area.to_dict(),
            "auuc": self.auuc.to_dict(),
            "auuc_coefficient": self.auuc_coefficient.to_dict(),
            "auuc_random": json_number(self.auuc_random),
            "uplift_at_k": [{"k": k, **e.to_dict()} for k, e in self.uplift_at_k.items()],
            "calibration": [row.to_dict() for row in self.calibration],
            "compat": {k: json_number(v) for k, v in self.compat.items()},
            "truth": self.truth.to_dict() if self.truth else None,
            "curves": None
            if self.curves is None
            else {"x": list(CURVE_GRID)}
            | {name: [e.to_dict() for e in points] for name, points in self.curves.items()},
        }


@dataclass(frozen=True)
class PolicyTruth:
    """Exact values of the policy, its alternatives and the oracle (simulated data)."""

    value: float
    value_none: float
    value_all: dict[str, float]
    value_oracle: float
    fraction_of_oracle_gain: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "value": json_number(self.value),
            "value_none": json_number(self.value_none),
            "value_all": {k: json_number(v) for k, v in self.value_all.items()},
            "value_oracle": json_number(self.value_oracle),
            "fraction_of_oracle_gain": json_number(self.fraction_of_oracle_gain),
        }


@dataclass(frozen=True)
class PolicyReport:
    """The greedy targeting policy of the predictions and what it is worth."""

    share: dict[str, float]  # share of customers the policy gives each arm ("control" first)
    value: PolicyValue
    value_none: PolicyValue
    value_all: dict[str, PolicyValue]
    gain_over_none: Estimate
    truth: PolicyTruth | None = None
    rule: str = POLICY_RULE

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "rule": self.rule,
            "share": {k: json_number(v) for k, v in self.share.items()},
            "value": self.value.to_dict(),
            "value_none": self.value_none.to_dict(),
            "value_all": {k: v.to_dict() for k, v in self.value_all.items()},
            "gain_over_none": self.gain_over_none.to_dict(),
            "truth": self.truth.to_dict() if self.truth else None,
        }


@dataclass(frozen=True)
class UpliftReport:
    """Everything ``uplift evaluate`` reports, per offer and for the whole policy."""

    n_rows: int
    outcome_kind: str  # "binary" or "continuous"
    arm_counts: dict[str, int]  # "control" first, then the offers
    per_offer: dict[str, OfferReport]
    policy: PolicyReport
    intervals: dict[str, object] = field(default_factory=dict)
    schema_version: str = EVALUATION_SCHEMA_VERSION

    @property
    def offers(self) -> list[str]:
        """Offer names in input order."""
        return list(self.per_offer)

    def to_dict(self) -> dict[str, object]:
        """The report as a JSON-ready dict with its schema version."""
        return {
            "schema_version": self.schema_version,
            "n_rows": self.n_rows,
            "outcome_kind": self.outcome_kind,
            "arm_counts": dict(self.arm_counts),
            "intervals": dict(self.intervals),
            "per_offer": {name: r.to_dict() for name, r in self.per_offer.items()},
            "policy": self.policy.to_dict(),
        }
