"""The portable form of a fitted learner: boosters and how they combine into arm levels.

Invariant: the expected outcome under arm ``a`` is ``Σ weight · model(X)`` over the terms of
``levels[a]`` (code 0 = control), clipped to ``clip`` when it is set (``(0, 1)`` for binary
outcomes); effects are level differences against control. Every learner of this package
exports to this form, so the in-memory model and the loaded bundle run the same code and a
new learner needs no new scoring code. Models are LightGBM text models, loaded from strings.

This module is on the scoring path: NumPy and LightGBM only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Term:
    """One weighted model output."""

    model: str
    weight: float = 1.0
    arm_column: float | None = None
    """When set, the model was trained with the arm code as a last column (an S-learner):
    it is evaluated on ``X`` with that column set to this value."""


@dataclass
class ScoringGraph:
    """Boosters by name, and the terms that make each arm's level."""

    models: dict[str, str]
    levels: list[list[Term]]
    clip: tuple[float, float] | None = None
    threads: int = 2
    _boosters: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_arms(self) -> int:
        """Number of arms, control included."""
        return len(self.levels)

    def predict_levels(self, X: np.ndarray) -> np.ndarray:
        """Expected outcome under every arm: shape (n_rows, n_arms)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        outputs: dict[tuple[str, float | None], np.ndarray] = {}
        result = np.zeros((X.shape[0], self.n_arms), dtype=np.float64)
        for arm, terms in enumerate(self.levels):
            for term in terms:
                key = (term.model, term.arm_column)
                if key not in outputs:
                    inputs = X
                    if term.arm_column is not None:
                        inputs = np.column_stack([X, np.full(X.shape[0], term.arm_column)])
                    booster = self._booster(term.model)
                    outputs[key] = booster.predict(inputs, num_threads=self.threads)
                result[:, arm] += term.weight * outputs[key]
        if self.clip is not None:
            np.clip(result, self.clip[0], self.clip[1], out=result)
        return result

    def predict_effects(self, X: np.ndarray) -> np.ndarray:
        """Effect of every offer against control: shape (n_rows, n_arms − 1)."""
        levels = self.predict_levels(X)
        return levels[:, 1:] - levels[:, :1]

    def _booster(self, name: str) -> Any:
        booster = self._boosters.get(name)
        if booster is None:
            import lightgbm

            booster = lightgbm.Booster(model_str=self.models[name])
            self._boosters[name] = booster
        return booster

    def to_manifest(self) -> dict[str, Any]:
        """The combination rule as written in a bundle's manifest (models are files)."""
        return {
            "levels": [[_term_dict(t) for t in terms] for terms in self.levels],
            "clip": list(self.clip) if self.clip is not None else None,
        }

    @classmethod
    def from_manifest(
        cls, spec: Mapping[str, Any], models: Mapping[str, str], threads: int = 2
    ) -> ScoringGraph:
        """Rebuild from a manifest's ``scoring`` entry and the model texts by name."""
        levels = [
            [Term(str(t["model"]), float(t["weight"]), t.get("arm_column")) for t in terms]
            for terms in spec["levels"]
        ]
        clip = spec.get("clip")
        return cls(
            models=dict(models),
            levels=levels,
            clip=(float(clip[0]), float(clip[1])) if clip else None,
            threads=threads,
        )


def _term_dict(term: Term) -> dict[str, Any]:
    out: dict[str, Any] = {"model": term.model, "weight": term.weight}
    if term.arm_column is not None:
        out["arm_column"] = term.arm_column
    return out
