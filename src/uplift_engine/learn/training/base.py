"""The estimator interface every uplift learner follows.

Invariant: ``X`` is a float64 matrix (NaN = missing; categorical columns hold level codes and
are listed in ``categorical``); ``treatment`` is a 1-D array of arm codes 0..K with 0 the
control; ``y`` is a 1-D float array, binary (0/1) or continuous. ``propensity``, when given, is
the probability of the arm each row *received* (from the design, or a ``--propensity``
column); otherwise it is the arm's share of the rows (a randomised design), clipped.

``fit`` validates, sets state ending in ``_`` and returns ``self``; ``predict`` always returns
the effect of each offer, shape (n, K); ``predict_outcomes`` the expected outcome under every
arm, shape (n, K + 1), control first; ``predict_interval`` the lower and upper bounds of every
offer's effect, each (n, K), for a learner whose ``has_intervals`` is true (a ``ConfigError``
otherwise); all run the exported :class:`ScoringGraph`, so a loaded bundle predicts exactly
what the fitted learner did. Before ``fit`` they raise :class:`~uplift_engine.errors.
NotFittedError`. ``has_intervals`` is a question to an instance: it depends on the settings (a
DR-learner bounds its effects with ``final_stage="forest"`` only). A new learner is one
subclass that implements ``_fit`` and returns a graph.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from uplift_engine.errors import ConfigError, DataError, NotFittedError
from uplift_engine.learn.graph import ScoringGraph
from uplift_engine.learn.training.boosting import BoosterParams, Objective

MIN_ARM_ROWS = 8
"""The fewest rows of an arm any learner fits on. Too few to learn much, but a base model of
that few rows fits a constant (its leaves need more), so the learner returns about the average
effect rather than failing; the training pipeline plans its folds so that no internal fit
goes below it (``uplift train`` asks more of the user's table: ``MIN_TABLE_ARM_ROWS``)."""
PROPENSITY_CLIP = (0.01, 0.99)


@dataclass(frozen=True)
class TrainingData:
    """Validated inputs, as a learner's ``_fit`` receives them."""

    X: np.ndarray
    treatment: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    propensity: np.ndarray  # probability of the received arm, per row
    categorical: list[int]
    n_arms: int
    objective: Objective

    @property
    def arm_shares(self) -> np.ndarray:
        """Share of the (weighted) rows in each arm."""
        w = self.sample_weight if self.sample_weight is not None else np.ones(len(self.y))
        totals = np.bincount(self.treatment, weights=w, minlength=self.n_arms)
        return totals / totals.sum()


class UpliftLearner(ABC):
    """Base class: validation, fitted state, prediction through the scoring graph."""

    name: ClassVar[str]
    intervals: ClassVar[bool] = False
    """Whether the learner bounds its effects whatever its settings (see :attr:`has_intervals`)."""

    def __init__(self, *, params: BoosterParams | None = None, seed: int = 0) -> None:
        self.params = params
        self.seed = seed

    def shortfall(self, arm_rows: np.ndarray) -> str | None:
        """Why this learner could learn nothing per customer from arms of ``arm_rows`` rows.

        ``arm_rows`` counts the rows of every arm, control first; ``None`` when it can learn.

        Fitting still works below it; the learner then returns about the average effect, so
        ``--learner auto`` leaves it out. Learners whose leaves have a fixed least size
        (the forests) say which setting stands in the way.
        """
        smallest = int(np.min(arm_rows))
        if smallest < MIN_ARM_ROWS:
            return f"{self.name} needs at least {MIN_ARM_ROWS} rows of every arm, got {smallest}"
        return None

    @property
    def has_intervals(self) -> bool:
        """Whether this learner, as configured, bounds its effects (``predict_interval``)."""
        return self.intervals

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, for a manifest (read from ``__init__``'s signature).

        Every keyword of a subclass's ``__init__`` is stored under its own name (STYLE.md), so
        the manifest lists them all without a hand-kept copy; ``params`` appears as
        ``booster``, the LightGBM parameters in force.
        """
        out: dict[str, Any] = {}
        for name in inspect.signature(type(self).__init__).parameters:
            if name == "self":
                continue
            if name == "params":
                out["booster"] = self._booster_params.to_dict()
            else:
                out[name] = getattr(self, name)
        return out

    def fit(
        self,
        X: np.ndarray,
        treatment: np.ndarray,
        y: np.ndarray,
        *,
        sample_weight: np.ndarray | None = None,
        propensity: np.ndarray | None = None,
        categorical: list[int] | None = None,
    ) -> Self:
        """Fit on a randomised campaign; returns ``self``."""
        data = validate_training_data(X, treatment, y, sample_weight, propensity, categorical)
        self.n_arms_ = data.n_arms
        self.outcome_kind_ = "binary" if data.objective == "binary" else "continuous"
        self.arm_shares_ = data.arm_shares
        self.graph_ = self._fit(data)
        return self

    @abstractmethod
    def _fit(self, data: TrainingData) -> ScoringGraph:
        """Fit the models and return how they combine into arm levels."""

    @property
    def _booster_params(self) -> BoosterParams:
        return self.params or BoosterParams()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Effect of every offer against control, shape (n, K)."""
        return self._graph().predict_effects(X)

    def predict_outcomes(self, X: np.ndarray) -> np.ndarray:
        """Expected outcome under every arm, control first, shape (n, K + 1)."""
        return self._graph().predict_levels(X)

    def predict_interval(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of every offer's effect, each (n, K).

        A :class:`ConfigError` for a learner fitted without intervals (see ``has_intervals``).
        """
        graph = self._graph()
        if graph.intervals is None:
            stage = getattr(self, "final_stage", None)
            hint = (
                f" only with final_stage='forest'; this one was fitted with final_stage={stage!r}"
                if stage is not None
                else "; wrap it in BootstrapIntervals for approximate ones"
            )
            field = "intervals" if stage is None else "final_stage"
            raise ConfigError(f"{self.name} gives confidence intervals{hint}", field=field)
        return graph.predict_interval(X)

    def export(self) -> ScoringGraph:
        """The fitted model in its portable form."""
        return self._graph()

    def _graph(self) -> ScoringGraph:
        graph = getattr(self, "graph_", None)
        if graph is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")
        return graph


def validate_training_data(
    X: np.ndarray,
    treatment: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    propensity: np.ndarray | None = None,
    categorical: list[int] | None = None,
) -> TrainingData:
    """Check shapes, arm codes, outcome and weights; fill in propensities from the design."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    treatment = np.asarray(treatment)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"X must be a 2-D matrix, got {X.ndim} dimension(s)")
    n = X.shape[0]
    if treatment.shape != (n,) or y.shape != (n,):
        raise DataError(f"X has {n} rows but treatment has shape {treatment.shape} and y {y.shape}")
    if not np.issubdtype(treatment.dtype, np.integer) or (n and treatment.min() < 0):
        raise DataError("treatment must hold arm codes 0..K (0 = control)")
    treatment = treatment.astype(np.int64)
    n_arms = int(treatment.max()) + 1 if n else 0
    counts = np.bincount(treatment, minlength=n_arms)
    if n_arms < 2 or counts.min() < MIN_ARM_ROWS:
        small = [f"arm {a}: {c}" for a, c in enumerate(counts) if c < MIN_ARM_ROWS]
        raise DataError(
            f"every arm needs at least {MIN_ARM_ROWS} rows to learn from; "
            + (", ".join(small) if small else "there is only one arm")
        )
    if not np.isfinite(y).all():
        raise DataError("the outcome has missing or infinite values")
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (n,) or not (sample_weight >= 0).all():
            raise DataError("sample_weight must be one non-negative number per row")
    if propensity is None:
        shares = counts / n
        propensity = shares[treatment]
    else:
        propensity = np.asarray(propensity, dtype=np.float64)
        if propensity.shape != (n,) or not ((propensity > 0) & (propensity <= 1)).all():
            raise DataError(
                "propensity must be one probability in (0, 1] per row: the chance of the arm "
                "the row received",
                field="propensity",
            )
    propensity = np.clip(propensity, *PROPENSITY_CLIP)
    return TrainingData(
        X=X,
        treatment=treatment,
        y=y,
        sample_weight=sample_weight,
        propensity=propensity,
        categorical=list(categorical or []),
        n_arms=n_arms,
        objective="binary" if binary else "regression",
    )
