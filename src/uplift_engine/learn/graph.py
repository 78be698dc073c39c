"""The portable form of a fitted learner: models and how they combine into arm levels.

Invariant: the expected outcome under arm ``a`` is ``Σ weight · model(X)[output]`` over the
terms of ``levels[a]`` (code 0 = control), clipped to ``clip`` when it is set (``(0, 1)`` for
binary outcomes); effects are level differences against control. Every learner of this package
exports to this form, so the in-memory model and the loaded bundle run the same code and a
new learner needs no new scoring code. A model is either a boosted model (``models``, one
output: LightGBM text, or a CatBoost ``.cbm`` model carried as text behind
:data:`~uplift_engine.learn.catboost_model.CATBOOST_HEADER`, so every model names its
library) or a :class:`TreeEnsemble` of NumPy arrays (``ensembles``, one or more outputs).

When ``intervals`` is set, offer ``k``'s effect ``θ_k`` is bounded at level ``L`` by
``θ_k ± z_L · s_k`` — clipped to the range an effect can take when levels are clipped — where
``s_k`` comes from one of two sources:

- ``intervals.variance[k − 1]``: terms whose weighted sum ``Σ weight · variance(model)`` is the
  effect's variance (models that know their variance: causal or regression tree ensembles),
  ``s_k = √variance`` — or ``√(variance + b_k²)`` when ``intervals.bias[k − 1]`` names terms
  whose weighted sum of outputs ``b_k`` bounds the estimate's bias (an ensemble's estimate of
  it). That interval on the root-mean-square error is, at levels of 90% and above, at least as
  wide as Armstrong & Kolesár's (2020) bias-aware interval for a bias of at most ``|b_k|``
  (to 0.02%), so it covers at level ``L`` whenever the bias is within the bound;
- ``intervals.replicates``: the arm levels of B refits on bootstrap resamples (models named
  ``b03__mu_1``…), combined like ``levels``; ``s_k = √(mean_b (θ_k,b − θ_k)²)``, the replicates'
  root-mean-square deviation from the main estimate (see
  :mod:`uplift_engine.learn.training.bootstrap`).

Either way the bounds bracket the point estimate, and replicates are evaluated only when bounds
are asked for — :meth:`ScoringGraph.predict_levels` reads the main models alone.

A LightGBM model read under several arm codes (an S-learner's) is evaluated once for all of
them: its trees that never split on the arm run once, the others once per arm
(:mod:`uplift_engine.learn.arm_split`).

This module is on the scoring path: NumPy and LightGBM only; CatBoost is imported only when a
graph holds a CatBoost model and evaluates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from uplift_engine.learn.arm_split import ArmSplitModel, split_by_arm
from uplift_engine.learn.catboost_model import model_library
from uplift_engine.learn.tree_ensemble import TreeEnsemble

INTERVAL_KINDS = ("confidence", "approximate")


@dataclass(frozen=True)
class Term:
    """One weighted model output."""

    model: str
    weight: float = 1.0
    arm_column: float | None = None
    """When set, the model was trained with the arm code as a last column (an S-learner):
    it is evaluated on ``X`` with that column set to this value."""
    output: int = 0
    """The column of a multi-output model (a tree ensemble) this term reads."""


@dataclass(frozen=True)
class IntervalSpec:
    """How the graph bounds each offer's effect: from variances or from bootstrap replicates."""

    variance: list[list[Term]]
    """Per offer (code 1..K): terms whose weighted sum is the variance of the effect (empty
    when the bounds come from ``replicates``)."""
    level: float = 0.9
    kind: str = "confidence"
    """``confidence`` (valid inference) or ``approximate`` (e.g. bootstrap)."""
    replicates: list[list[list[Term]]] = field(default_factory=list)
    """Per bootstrap replicate, per arm (code 0..K): the terms of that refit's level."""
    bias: list[list[Term]] = field(default_factory=list)
    """Per offer (code 1..K), or empty: terms (of tree ensembles) whose weighted sum of
    outputs bounds the bias of the effect's estimate; its square adds to the variance."""

    def to_dict(self) -> dict[str, Any]:
        """The spec as written in a manifest (``replicates`` and ``bias`` only when present)."""
        out: dict[str, Any] = {
            "level": self.level,
            "kind": self.kind,
            "variance": [[_term_dict(t) for t in terms] for terms in self.variance],
        }
        if self.replicates:
            out["replicates"] = [
                [[_term_dict(t) for t in terms] for terms in arms] for arms in self.replicates
            ]
        if self.bias:
            out["bias"] = [[_term_dict(t) for t in terms] for terms in self.bias]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntervalSpec:
        """Parse :meth:`to_dict` output (older manifests lack ``replicates`` or ``bias``)."""
        kind = str(data["kind"])
        level = float(data["level"])
        if kind not in INTERVAL_KINDS or not 0 < level < 1:
            raise ValueError(f"interval kind {kind!r} at level {level} is not supported")
        replicates = [
            [[_term(t) for t in terms] for terms in arms] for arms in data.get("replicates") or []
        ]
        variance = [[_term(t) for t in terms] for terms in data.get("variance") or []]
        bias = [[_term(t) for t in terms] for terms in data.get("bias") or []]
        return cls(variance, level, kind, replicates, bias)


@dataclass
class ScoringGraph:
    """Models by name, and the terms that make each arm's level."""

    models: dict[str, str]
    levels: list[list[Term]]
    clip: tuple[float, float] | None = None
    threads: int = 2
    ensembles: dict[str, TreeEnsemble] = field(default_factory=dict)
    intervals: IntervalSpec | None = None
    _boosters: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _arm_splits: dict[str, ArmSplitModel | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def n_arms(self) -> int:
        """Number of arms, control included."""
        return len(self.levels)

    def predict_levels(self, X: np.ndarray) -> np.ndarray:
        """Expected outcome under every arm: shape (n_rows, n_arms)."""
        return self._levels(np.ascontiguousarray(X, dtype=np.float64), {})

    def predict_effects(self, X: np.ndarray) -> np.ndarray:
        """Effect of every offer against control: shape (n_rows, n_arms − 1)."""
        levels = self.predict_levels(X)
        return levels[:, 1:] - levels[:, :1]

    def predict_interval(
        self, X: np.ndarray, level: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of every offer's effect, each (n_rows, n_arms − 1)."""
        _, lower, upper = self.predict_levels_and_interval(X, level)
        return lower, upper

    def predict_levels_and_interval(
        self, X: np.ndarray, level: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Levels (n, K + 1) and effect bounds (n, K) each, sharing one pass over the models."""
        spec = self.intervals
        if spec is None:
            raise ValueError("this model has no intervals")
        level = spec.level if level is None else float(level)
        if not 0 < level < 1:
            raise ValueError(f"interval level must be in (0, 1), got {level}")
        X = np.ascontiguousarray(X, dtype=np.float64)
        z = NormalDist().inv_cdf(0.5 + level / 2)
        if spec.replicates:
            levels, half = self._replicate_spread(X, spec.replicates)
            return self._bounds(levels, levels[:, 1:] - levels[:, :1], z * half)
        variances: dict[str, np.ndarray] = {}
        cache: dict[tuple[str, float | None], np.ndarray] = {}
        for terms in [*spec.variance, *spec.bias]:
            for term in terms:
                if term.model not in variances:
                    mean, var = self.ensembles[term.model].predict_variance(X)
                    cache[(term.model, None)] = mean
                    variances[term.model] = var
        levels = self._levels(X, cache)
        effects = levels[:, 1:] - levels[:, :1]
        half = np.empty_like(effects)
        for k, terms in enumerate(spec.variance):
            var = np.zeros(X.shape[0])
            for term in terms:
                var += term.weight * variances[term.model][:, term.output]
            np.maximum(var, 0.0, out=var)
            if spec.bias:
                bias = np.zeros(X.shape[0])
                for term in spec.bias[k]:
                    bias += term.weight * cache[(term.model, None)][:, term.output]
                var += bias * bias
            half[:, k] = z * np.sqrt(var)
        return self._bounds(levels, effects, half)

    def _replicate_spread(
        self, X: np.ndarray, replicates: list[list[list[Term]]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Main levels, and each effect's RMS deviation of the replicates from the main one."""
        levels = self._levels(X, {})
        effects = levels[:, 1:] - levels[:, :1]
        total = np.zeros_like(effects)
        for arms in replicates:  # one output cache per replicate: memory of one set of models
            rep = self._levels(X, {}, arms)
            deviation = rep[:, 1:] - rep[:, :1] - effects
            total += deviation * deviation
        return levels, np.sqrt(total / len(replicates))

    def _bounds(
        self, levels: np.ndarray, effects: np.ndarray, half: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lower, upper = effects - half, effects + half
        if self.clip is not None:
            span = self.clip[1] - self.clip[0]
            np.clip(lower, -span, span, out=lower)
            np.clip(upper, -span, span, out=upper)
        return levels, lower, upper

    def _levels(
        self,
        X: np.ndarray,
        outputs: dict[tuple[str, float | None], np.ndarray],
        arm_terms: list[list[Term]] | None = None,
    ) -> np.ndarray:
        result = np.zeros((X.shape[0], self.n_arms), dtype=np.float64)
        arm_levels = self.levels if arm_terms is None else arm_terms
        self._arm_outputs(X, arm_levels, outputs)
        for arm, terms in enumerate(arm_levels):
            for term in terms:
                key = (term.model, term.arm_column)
                if key not in outputs:
                    inputs = X
                    if term.arm_column is not None:
                        inputs = np.column_stack([X, np.full(X.shape[0], term.arm_column)])
                    outputs[key] = self._model_output(term.model, inputs)
                result[:, arm] += term.weight * outputs[key][:, term.output]
        if self.clip is not None:
            np.clip(result, self.clip[0], self.clip[1], out=result)
        return result

    def _arm_outputs(
        self,
        X: np.ndarray,
        arm_levels: list[list[Term]],
        outputs: dict[tuple[str, float | None], np.ndarray],
    ) -> None:
        """Evaluate each LightGBM model read under several arm codes once for all of them."""
        wanted: dict[str, list[float]] = {}
        for terms in arm_levels:
            for term in terms:
                key = (term.model, term.arm_column)
                if term.arm_column is None or key in outputs or term.model not in self.models:
                    continue
                if term.arm_column not in wanted.setdefault(term.model, []):
                    wanted[term.model].append(term.arm_column)
        for name, arms in wanted.items():
            split = self._arm_split(name) if len(arms) > 1 else None
            if split is not None:
                for arm, out in split.predict(X, arms, self.threads).items():
                    outputs[(name, arm)] = out[:, None]

    def _arm_split(self, name: str) -> ArmSplitModel | None:
        if name not in self._arm_splits:
            text = self.models[name]
            lightgbm_text = model_library(text) == "lightgbm"
            self._arm_splits[name] = split_by_arm(text) if lightgbm_text else None
        return self._arm_splits[name]

    def _model_output(self, name: str, X: np.ndarray) -> np.ndarray:
        ensemble = self.ensembles.get(name)
        if ensemble is not None:
            return ensemble.predict(X)
        out = self._booster(name).predict(X, num_threads=self.threads)
        return np.asarray(out, dtype=np.float64).reshape(X.shape[0], -1)

    def _booster(self, name: str) -> Any:
        booster = self._boosters.get(name)
        if booster is None:
            text = self.models[name]
            if model_library(text) == "catboost":
                from uplift_engine.learn.catboost_model import CatBoostBooster, catboost_bytes

                booster = CatBoostBooster.from_cbm(catboost_bytes(text))
            else:
                import lightgbm

                booster = lightgbm.Booster(model_str=text)
            self._boosters[name] = booster
        return booster

    def to_manifest(self) -> dict[str, Any]:
        """The combination rule as written in a bundle's manifest (models are files)."""
        out: dict[str, Any] = {
            "levels": [[_term_dict(t) for t in terms] for terms in self.levels],
            "clip": list(self.clip) if self.clip is not None else None,
        }
        if self.ensembles:
            out["ensembles"] = {
                name: ensemble.to_manifest() for name, ensemble in sorted(self.ensembles.items())
            }
        if self.intervals is not None:
            out["intervals"] = self.intervals.to_dict()
        return out

    @classmethod
    def from_manifest(
        cls,
        spec: Mapping[str, Any],
        models: Mapping[str, str],
        threads: int = 2,
        ensemble_arrays: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    ) -> ScoringGraph:
        """Rebuild from a manifest's ``scoring`` entry, model texts and ensemble arrays by name."""
        levels = [[_term(t) for t in terms] for terms in spec["levels"]]
        clip = spec.get("clip")
        arrays = ensemble_arrays or {}
        ensembles = {
            name: TreeEnsemble.from_manifest(meta, arrays[name], threads=threads)
            for name, meta in (spec.get("ensembles") or {}).items()
        }
        intervals = spec.get("intervals")
        graph = cls(
            models=dict(models),
            levels=levels,
            clip=(float(clip[0]), float(clip[1])) if clip else None,
            threads=threads,
            ensembles=ensembles,
            intervals=IntervalSpec.from_dict(intervals) if intervals else None,
        )
        graph._check_references()
        return graph

    def _interval_terms(self, spec: IntervalSpec) -> list[Term]:
        """The terms an interval spec reads, after checking its shape."""
        if spec.replicates:
            if spec.variance or spec.bias:
                raise ValueError("intervals come from variances or from replicates, not both")
            if len(spec.replicates) < 2:
                raise ValueError("bootstrap intervals need at least 2 replicates")
            if any(len(arms) != self.n_arms for arms in spec.replicates):
                raise ValueError(f"every replicate must give levels for all {self.n_arms} arms")
            return [t for arms in spec.replicates for arm in arms for t in arm]
        if len(spec.variance) != self.n_arms - 1:
            raise ValueError("intervals must give one variance per offer")
        if any(t.model not in self.ensembles for o in spec.variance for t in o):
            raise ValueError("interval variances must come from tree ensembles")
        if spec.bias and len(spec.bias) != self.n_arms - 1:
            raise ValueError("intervals must give one bias bound per offer, or none")
        if any(t.model not in self.ensembles for o in spec.bias for t in o):
            raise ValueError("interval bias bounds must come from tree ensembles")
        return [t for offer in [*spec.variance, *spec.bias] for t in offer]

    def terms(self) -> list[Term]:
        """Every term the graph reads: the arms' levels, then the intervals'."""
        terms = [t for arm in self.levels for t in arm]
        if self.intervals is not None:
            terms += self._interval_terms(self.intervals)
        return terms

    def _check_references(self) -> None:
        for term in self.terms():
            if term.model in self.ensembles:
                if not 0 <= term.output < self.ensembles[term.model].n_outputs:
                    raise ValueError(f"term reads output {term.output} of {term.model!r}")
            elif term.model not in self.models:
                raise ValueError(f"term refers to model {term.model!r}, which is not in the bundle")


def _term(data: Mapping[str, Any]) -> Term:
    arm_column = data.get("arm_column")
    return Term(str(data["model"]), float(data["weight"]), arm_column, int(data.get("output", 0)))


def _term_dict(term: Term) -> dict[str, Any]:
    out: dict[str, Any] = {"model": term.model, "weight": term.weight}
    if term.arm_column is not None:
        out["arm_column"] = term.arm_column
    if term.output:
        out["output"] = term.output
    return out
