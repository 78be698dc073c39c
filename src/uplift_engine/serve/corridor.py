"""Deciding one customer: the request corridor, from the online store to the offer.

    online store (one round trip) → request-time features → bundle (every arm's expected
    outcome, each offer's effect and its interval) → guardrails, economics, the plan's prices
    (:class:`~uplift_engine.decide.Decider`) → the offer, or none

Invariant: this module and everything it imports run in the decision-only environment
(docs/architecture.md): the standard library, NumPy and LightGBM (SciPy beneath it), the online
store's client, boto3 for an S3 bundle — never pandas, PyArrow, pydantic, DuckDB, HiGHS, numba,
scikit-learn or the simulator, none of which that environment installs. A test builds the
environment and decides customers in it; the HTTP app, the Lambda handlers and batch decisions
are to be thin adapters over :class:`DecisionCore`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uplift_engine.decide import Decider, Decision
from uplift_engine.features import FeatureReader
from uplift_engine.learn import Bundle, pred_column, uplift_column


@dataclass(frozen=True)
class CustomerDecision:
    """One customer's scores and the decision taken on them."""

    customer_id: int | str
    decision: Decision
    scores: dict[str, float]
    """``pred_<arm>``, ``uplift_<offer>`` and, when the model bounds its effects,
    ``uplift_<offer>_lower`` / ``_upper`` — the scores contract's columns for this customer."""
    features: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "customer_id": self.customer_id,
            "offer": self.decision.offer or None,
            "expected_profit": self.decision.expected_profit,
            "expected_cost": self.decision.expected_cost,
            "excluded_by": self.decision.excluded_by or None,
            "scores": dict(self.scores),
        }


class DecisionCore:
    """A bundle, the online features and a decider: one customer at a time."""

    def __init__(self, bundle: Bundle, reader: FeatureReader, decider: Decider) -> None:
        missing = [n for n in bundle.encoder.names if n not in reader.names]
        if missing:
            from uplift_engine.errors import ConfigError

            raise ConfigError(
                f"the model reads feature(s) {', '.join(map(repr, missing))} that the online "
                f"features do not provide ({', '.join(reader.names)})",
                field="features",
            )
        self.bundle = bundle
        self.reader = reader
        self.decider = decider
        self._arms = bundle.arms
        self._offers = bundle.offers

    def decide(
        self,
        customer_id: int | str,
        request: Mapping[str, object] | None = None,
        *,
        at_us: int | None = None,
    ) -> CustomerDecision:
        """Read, score and decide one customer (``request``: the request's own fields)."""
        features = self.reader.read(customer_id, at_us=at_us, request=request)
        columns = {name: [features[name]] for name in self.bundle.encoder.names}
        if self.bundle.intervals is not None:
            levels, lower, upper = self.bundle.predict_levels_and_interval(columns)
        else:
            levels, lower, upper = self.bundle.predict_levels(columns), None, None
        scores = self._scores(levels[0], lower, upper)
        row: dict[str, Any] = {**features, **dict(request or {}), **scores}
        row[self.decider.id_column] = customer_id
        return CustomerDecision(customer_id, self.decider.decide(row), scores, features)

    def _scores(
        self, levels: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None
    ) -> dict[str, float]:
        out = {pred_column(arm): float(levels[a]) for a, arm in enumerate(self._arms)}
        for k, offer in enumerate(self._offers):
            out[uplift_column(offer)] = float(levels[k + 1] - levels[0])
            if lower is not None and upper is not None:
                out[uplift_column(offer, "lower")] = _finite(lower[0, k])
                out[uplift_column(offer, "upper")] = _finite(upper[0, k])
        return out


def _finite(value: float) -> float:
    number = float(value)
    return number if math.isfinite(number) else math.nan
