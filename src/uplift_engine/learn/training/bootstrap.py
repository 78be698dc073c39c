"""Approximate intervals for any learner: refits on bootstrap resamples, one scoring graph.

Invariant: the point estimate is the wrapped learner fitted on all the rows, exactly as without
the wrapper; replicate ``b`` (of B) is a copy of it (same parameters, learner seed
``seed + 1000·(b + 1)``) fitted on a resample drawn *within each arm* (so every replicate keeps
the arms' sizes and shares), seeded by ``[seed, b]``. A resample is passed as whole-number
weights on the distinct rows it drew (a row drawn three times weighs three), multiplied into
any ``sample_weight``: the weighted fit is the fit on the resample, but a row cannot sit on both
sides of a booster's early-stopping split, and each fit reads about 63% of the rows.

Everything is merged into ONE :class:`ScoringGraph`: the main fit's models and levels, and each
replicate's models renamed ``b03__mu_1`` with its levels in ``intervals.replicates``. The bounds
are a normal approximation centred on the main estimate, ``θ ± z · s`` with
``s = √(mean_b (θ_b − θ)²)`` — the replicates' root-mean-square deviation *from the main
estimate* (their spread plus their drift, in quadrature) — rather than percentiles of the
replicates: with B = 20 a 5% percentile is an extreme of 20 draws, too noisy to set a
guardrail on, it cannot be moved to another level at scoring time, and it need not contain the
scored effect. The intervals are labelled ``approximate``: a bootstrap measures the variance of
a regularised learner, not its bias, so their coverage is measured, not promised.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from uplift_engine.errors import ConfigError, DataError
from uplift_engine.learn.graph import IntervalSpec, ScoringGraph, Term
from uplift_engine.learn.training.base import MIN_ARM_ROWS, TrainingData, UpliftLearner

MAX_REPLICATES = 1_000
MIN_BOOTSTRAP_ARM_ROWS = 2 * MIN_ARM_ROWS
"""A resample holds about 63% of an arm's distinct rows; twice the learners' minimum keeps every
replicate above it."""
REPLICATE_SEED_STEP = 1_000


class BootstrapIntervals(UpliftLearner):
    """Any learner plus approximate (bootstrap) intervals for its effects.

    ``BootstrapIntervals(TLearner(seed=0), n_replicates=20, level=0.9, seed=0)`` fits the
    learner once on the data and ``n_replicates`` times on resamples stratified by arm; it
    predicts exactly what the learner alone predicts, and :meth:`predict_interval` bounds
    every offer's effect. Fitting costs about ``1 + 0.7·n_replicates`` fits of the learner;
    scoring levels costs nothing extra, scoring bounds ``1 + n_replicates`` evaluations.
    Learners with their own confidence intervals (``has_intervals``) are refused.
    """

    intervals = True

    def __init__(
        self,
        learner: UpliftLearner,
        *,
        n_replicates: int = 20,
        level: float = 0.9,
        seed: int = 0,
    ) -> None:
        super().__init__(seed=seed)
        self.learner = learner
        self.n_replicates = n_replicates
        self.level = level

    @property
    def name(self) -> str:  # type: ignore[override]  # the wrapped learner's, not a constant
        """The wrapped learner's name (the bundle records the learner, intervals in params)."""
        return str(self.learner.name)

    def get_params(self) -> dict[str, Any]:
        """The wrapped learner's parameters, and how its intervals are made under ``intervals``."""
        return {
            **self.learner.get_params(),
            "intervals": {
                "method": "bootstrap",
                "n_replicates": self.n_replicates,
                "level": self.level,
                "seed": self.seed,
            },
        }


    def _fit(self, data: TrainingData) -> ScoringGraph:
        self._check()
        counts = np.bincount(data.treatment, minlength=data.n_arms)
        if counts.min() < MIN_BOOTSTRAP_ARM_ROWS:
            small = ", ".join(
                f"arm {a}: {c}" for a, c in enumerate(counts) if c < MIN_BOOTSTRAP_ARM_ROWS
            )
            raise DataError(
                f"bootstrap intervals need at least {MIN_BOOTSTRAP_ARM_ROWS} rows in every arm "
                f"(a resample keeps about 63% of them); got {small}"
            )
        graph = _fit_on(_clone(self.learner, self.learner.seed), data, None, None)
        models, ensembles = dict(graph.models), dict(graph.ensembles)
        replicates: list[list[list[Term]]] = []
        width = max(2, len(str(self.n_replicates - 1)))
        arm_rows = [np.flatnonzero(data.treatment == a) for a in range(data.n_arms)]
        for b in range(self.n_replicates):
            rows, weight = _resample(arm_rows, np.random.default_rng([self.seed, b]))
            seed = self.learner.seed + REPLICATE_SEED_STEP * (b + 1)
            rep = _fit_on(_clone(self.learner, seed), data, rows, weight)
            prefix = f"b{b:0{width}d}__"
            models.update({prefix + name: text for name, text in rep.models.items()})
            ensembles.update({prefix + name: ens for name, ens in rep.ensembles.items()})
            replicates.append(
                [[_renamed(t, prefix) for t in terms] for terms in rep.levels]
            )
        return ScoringGraph(
            models,
            graph.levels,
            clip=graph.clip,
            threads=graph.threads,
            ensembles=ensembles,
            intervals=IntervalSpec([], self.level, "approximate", replicates),
        )

    def _check(self) -> None:
        learner = self.learner
        if not isinstance(learner, UpliftLearner) or isinstance(learner, BootstrapIntervals):
            raise ConfigError(
                "BootstrapIntervals wraps one uplift learner (e.g. TLearner()), got "
                f"{type(learner).__name__}",
                field="learner",
            )
        if learner.has_intervals:
            raise ConfigError(
                f"{learner.name} gives its own confidence intervals (valid inference); "
                "bootstrap intervals are for learners without them: drop --intervals bootstrap",
                field="intervals",
            )
        if isinstance(self.n_replicates, bool) or not isinstance(self.n_replicates, int) or not (
            2 <= self.n_replicates <= MAX_REPLICATES
        ):
            raise ConfigError(
                f"the number of bootstrap replicates must be a whole number from 2 to "
                f"{MAX_REPLICATES}, got {self.n_replicates!r}",
                field="replicates",
            )
        if not 0 < self.level < 1:
            raise ConfigError(
                f"the interval level must be between 0 and 1 (e.g. 0.9), got {self.level!r}",
                field="level",
            )


def _clone(learner: UpliftLearner, seed: int) -> UpliftLearner:
    """A fresh, unfitted learner with ``learner``'s constructor arguments and ``seed``."""
    names = [n for n in inspect.signature(type(learner).__init__).parameters if n != "self"]
    kwargs = {name: getattr(learner, name) for name in names}
    kwargs["seed"] = seed
    return type(learner)(**kwargs)


def _resample(
    arm_rows: list[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One stratified bootstrap: the distinct rows drawn (sorted) and how often each was."""
    rows, weights = [], []
    for members in arm_rows:
        drawn = np.bincount(rng.integers(0, members.size, members.size), minlength=members.size)
        kept = np.flatnonzero(drawn)
        rows.append(members[kept])
        weights.append(drawn[kept].astype(np.float64))
    order = np.argsort(np.concatenate(rows), kind="stable")
    return np.concatenate(rows)[order], np.concatenate(weights)[order]


def _fit_on(
    learner: UpliftLearner,
    data: TrainingData,
    rows: np.ndarray | None,
    weight: np.ndarray | None,
) -> ScoringGraph:
    """Fit ``learner`` on ``rows`` of ``data`` (all when None) times ``weight``; its graph."""
    if rows is None:
        X, treatment, y = data.X, data.treatment, data.y
        sample_weight, propensity = data.sample_weight, data.propensity
    else:
        X, treatment, y = data.X[rows], data.treatment[rows], data.y[rows]
        propensity = data.propensity[rows]
        sample_weight = None if data.sample_weight is None else data.sample_weight[rows]
    if weight is not None:
        sample_weight = weight if sample_weight is None else sample_weight * weight
    learner.fit(
        X,
        treatment,
        y,
        sample_weight=sample_weight,
        propensity=propensity,
        categorical=data.categorical,
    )
    return learner.export()


def _renamed(term: Term, prefix: str) -> Term:
    return Term(prefix + term.model, term.weight, term.arm_column, term.output)
