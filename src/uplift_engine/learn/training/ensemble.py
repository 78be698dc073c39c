"""The average of several learners' estimates: one model whose effect is the members' mean.

``AverageLearner(members=("s_learner", "uplift_forest"))`` fits every member
on the same data, with its defaults, the shared base-model parameters and the ensemble's seed,
and exports one :class:`ScoringGraph` whose level for each arm is the mean of the members'
levels (their models renamed ``m0__…``, ``m1__…``), clipped as the members clip. Effects are
level differences, so the ensemble's effect is the mean of the members' effects wherever no
clip binds.

Why: on small and noisy campaigns no single learner is reliably best — on the real trials of
the benchmark each learner lost badly somewhere (docs/learners.md) — and the errors of an
S-learner (one boosted model whose effects shrink toward the average) and an uplift forest
(direct splits on the effect with causalml's criteria and shrinkage) differ in kind: the
S-learner ranked Hillstrom's e-mail visitors best of seven learners and Thornton's HIV-test
incentives among the worst, the uplift forest the reverse, and their average held up on both.
Adding the causal forest helped on Hillstrom's rare conversions and hurt on its visits, at four
times the fitting time (docs/learners.md).

Invariant: the members are names of :data:`~uplift_engine.learn.training.registry.LEARNERS`
(not ``ensemble`` itself), at least two, distinct. The ensemble gives no intervals of its own
(a causal forest member's do not carry over to the average); ``--intervals bootstrap`` wraps it
like any learner.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uplift_engine.errors import ConfigError
from uplift_engine.learn.graph import ScoringGraph, Term
from uplift_engine.learn.training.base import TrainingData, UpliftLearner
from uplift_engine.learn.training.boosting import BoosterParams

ENSEMBLE = "ensemble"
MEMBERS = ("s_learner", "uplift_forest")
"""The default members; chosen on the benchmark's real trials (docs/learners.md)."""


class AverageLearner(UpliftLearner):
    """The mean of the members' arm levels."""

    name = ENSEMBLE

    def __init__(
        self,
        *,
        params: BoosterParams | None = None,
        seed: int = 0,
        members: tuple[str, ...] = MEMBERS,
    ) -> None:
        super().__init__(params=params, seed=seed)
        self.members = tuple(members)

    def member_learners(self) -> list[UpliftLearner]:
        """A fresh, unfitted learner per member, as this ensemble fits them."""
        from uplift_engine.learn.training.registry import LEARNERS

        known = [name for name in LEARNERS if name != ENSEMBLE]
        unknown = [m for m in self.members if m not in known]
        if unknown or len(set(self.members)) != len(self.members) or len(self.members) < 2:
            raise ConfigError(
                f"ensemble members must be at least two distinct learners of {', '.join(known)}; "
                f"got {', '.join(self.members) or 'none'}",
                field="members",
            )
        return [LEARNERS[m](params=self.params, seed=self.seed) for m in self.members]

    def shortfall(self, arm_rows: np.ndarray) -> str | None:
        """The base minimum only: a member that cannot split adds the average effect."""
        return super().shortfall(arm_rows)

    def get_params(self) -> dict[str, Any]:
        """The members and, under ``member_params``, each member's own parameters."""
        out = super().get_params()
        out["member_params"] = {
            m.name: {k: v for k, v in m.get_params().items() if k != "booster"}
            for m in self.member_learners()
        }
        return out

    def _fit(self, data: TrainingData) -> ScoringGraph:
        graphs = [_fit_graph(member, data) for member in self.member_learners()]
        clips = {graph.clip for graph in graphs}
        weight = 1.0 / len(graphs)
        models: dict[str, str] = {}
        ensembles = {}
        levels: list[list[Term]] = [[] for _ in range(data.n_arms)]
        for i, graph in enumerate(graphs):
            prefix = f"m{i}__"
            models.update({prefix + name: text for name, text in graph.models.items()})
            ensembles.update({prefix + name: e for name, e in graph.ensembles.items()})
            for arm, terms in enumerate(graph.levels):
                levels[arm] += [
                    Term(prefix + t.model, t.weight * weight, t.arm_column, t.output) for t in terms
                ]
        return ScoringGraph(
            models,
            levels,
            clip=clips.pop() if len(clips) == 1 else None,
            threads=self._booster_params.threads,
            ensembles=ensembles,
        )


def _fit_graph(learner: UpliftLearner, data: TrainingData) -> ScoringGraph:
    learner.fit(
        data.X,
        data.treatment,
        data.y,
        sample_weight=data.sample_weight,
        propensity=data.propensity,
        categorical=data.categorical,
    )
    return learner.export()
