"""The other libraries' learners as contenders: causalml, EconML and scikit-uplift.

Invariants:
- Base models are LightGBM's scikit-learn estimators with LightGBM's defaults (100 trees,
  learning rate 0.1, 31 leaves), ``n_jobs`` = the run's threads and ``random_state`` = its
  seed; classifiers for binary outcomes where the learner takes one, regressors otherwise.
- causalml's ``UpliftRandomForestClassifier`` gets the same number of trees, depth, leaf
  sizes, ``n_reg`` and ``max_features`` as our ``uplift_forest`` (causalml ≥ 0.16 counts depth
  in split levels, as we do). EconML's ``CausalForestDML`` gets as many trees as our
  ``causal_forest`` (rounded up to its subforest size) and its defaults otherwise.
- Multi-offer: causalml and EconML fit all arms at once (both support several treatments);
  scikit-uplift is binary-treatment only, so it is fitted once per offer on that offer's and
  the control's rows, and its fit time is the sum.
- Propensities: the design's assignment probabilities go to every learner that accepts them
  (causalml's X and DR learners, as ``p``); causalml's DR learner also runs once with its
  default (estimated) propensities; EconML estimates them with its ``model_t`` /
  ``model_propensity`` (a LightGBM classifier); T-learners and scikit-uplift use none.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import numpy as np

from learners.contender import INTERVAL_LEVEL, Cell, Contender
from learners.datasets import Dataset, Part
from learners.ours import causal_forest_trees, uplift_forest_params

ECONML_SUBFOREST = 4


def _lgbm(kind: str, seed: int, threads: int) -> Any:
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMClassifier if kind == "classifier" else LGBMRegressor
    return cls(n_jobs=threads, random_state=seed, verbose=-1)


def _quiet() -> None:
    logging.getLogger("causalml").setLevel(logging.WARNING)


# -- causalml ---------------------------------------------------------------------------------


class _CausalML(Contender):
    """causalml learners take arm labels and return effects in the order of ``t_groups``."""

    def labels(self, part: Part) -> np.ndarray:
        return np.asarray(self.ds.arms, dtype=object)[part.treatment]

    def p(self, part: Part) -> np.ndarray | dict[str, np.ndarray]:
        """Design propensity of each offer against control, as causalml wants it."""
        a = part.assignment
        per_offer = {
            name: np.clip(a[:, k] / (a[:, k] + a[:, 0]), 1e-6, 1 - 1e-6)
            for k, name in enumerate(self.ds.offers, start=1)
        }
        return next(iter(per_offer.values())) if len(per_offer) == 1 else per_offer

    def ordered(self, effects: np.ndarray, groups: Any) -> np.ndarray:
        effects = np.asarray(effects, np.float64).reshape(len(effects), -1)
        position = {str(g): i for i, g in enumerate(groups)}
        return effects[:, [position[o] for o in self.ds.offers]]


class CausalMLForest(_CausalML):
    """``UpliftRandomForestClassifier`` with our uplift forest's size."""

    def __init__(self, criterion: str, ds: Dataset, seed: int, threads: int) -> None:
        super().__init__(ds, seed, threads)
        self.criterion = criterion

    def fit(self, train: Part) -> None:
        from causalml.inference.tree import UpliftRandomForestClassifier

        size = uplift_forest_params()
        self.model = UpliftRandomForestClassifier(
            control_name=self.ds.arms[0],
            n_estimators=int(size["n_trees"]),
            max_depth=int(size["max_depth"]),
            min_samples_leaf=int(size["min_samples_leaf"]),
            min_samples_treatment=int(size["min_samples_treatment"]),
            n_reg=size["n_reg"],
            max_features=size["max_features"] or train.X.shape[1],
            evaluationFunction=self.criterion,
            random_state=self.seed,
            n_jobs=self.threads,
        )
        self.model.fit(train.X, self.labels(train), train.y.astype(np.int64))
        depths = [t.tree_.max_depth for t in self.model.estimators_ if hasattr(t, "tree_")]
        self.notes["params"] = size
        if depths:
            self.notes["deepest_tree"] = int(max(depths))

    def predict(self, part: Part) -> np.ndarray:
        return self.ordered(self.model.predict(part.X), self.model.classes_[1:])


class CausalMLMeta(_CausalML):
    """``BaseT…``, ``BaseX…`` and ``BaseDRLearner`` on LightGBM."""

    def __init__(self, kind: str, design_p: bool, ds: Dataset, seed: int, threads: int) -> None:
        super().__init__(ds, seed, threads)
        self.kind = kind
        self.design_p = design_p

    def fit(self, train: Part) -> None:
        from causalml.inference import meta

        _quiet()
        outcome = "classifier" if self.ds.binary else "regressor"
        lgbm = partial(_lgbm, seed=self.seed, threads=self.threads)
        control = self.ds.arms[0]
        if self.kind == "T":
            cls = meta.BaseTClassifier if self.ds.binary else meta.BaseTRegressor
            self.model = cls(learner=lgbm(outcome), control_name=control)
            self.model.fit(train.X, self.labels(train), train.y)
        elif self.kind == "X":
            if self.ds.binary:
                self.model = meta.BaseXClassifier(
                    outcome_learner=lgbm("classifier"),
                    effect_learner=lgbm("regressor"),
                    control_name=control,
                )
            else:
                self.model = meta.BaseXRegressor(learner=lgbm("regressor"), control_name=control)
            self.model.fit(train.X, self.labels(train), train.y, p=self.p(train))
        else:
            self.model = meta.BaseDRLearner(learner=lgbm("regressor"), control_name=control)
            p = self.p(train) if self.design_p else None
            self.model.fit(train.X, self.labels(train), train.y, p=p, seed=self.seed)
        self.notes["class"] = type(self.model).__name__

    def predict(self, part: Part) -> np.ndarray:
        if self.kind == "X":
            effects = self.model.predict(part.X, p=self.p(part))
        else:
            effects = self.model.predict(part.X)
        return self.ordered(effects, self.model.t_groups)


# -- EconML -----------------------------------------------------------------------------------


class _EconML(Contender):
    def effects(self, part: Part) -> np.ndarray:
        cols = [self.model.effect(part.X, T0=0, T1=k) for k in range(1, len(self.ds.arms))]
        return np.column_stack([np.ravel(c) for c in cols]).astype(np.float64)

    def predict(self, part: Part) -> np.ndarray:
        return self.effects(part)

    def interval(self, part: Part) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            bounds = [
                self.model.effect_interval(part.X, T0=0, T1=k, alpha=1 - INTERVAL_LEVEL)
                for k in range(1, len(self.ds.arms))
            ]
        except (AttributeError, NotImplementedError, ValueError):
            return None
        low = np.column_stack([np.ravel(b[0]) for b in bounds])
        high = np.column_stack([np.ravel(b[1]) for b in bounds])
        return low.astype(np.float64), high.astype(np.float64)


class EconMLCausalForest(_EconML):
    """``CausalForestDML`` with LightGBM nuisances and our causal forest's number of trees."""

    def fit(self, train: Part) -> None:
        from econml.dml import CausalForestDML

        trees = -(-causal_forest_trees() // ECONML_SUBFOREST) * ECONML_SUBFOREST
        self.model = CausalForestDML(
            model_y=_lgbm("regressor", self.seed, self.threads),
            model_t=_lgbm("classifier", self.seed, self.threads),
            discrete_treatment=True,
            n_estimators=trees,
            random_state=self.seed,
            n_jobs=self.threads,
        )
        self.model.fit(train.y, train.treatment, X=train.X)
        self.notes["n_estimators"] = trees


class EconMLDR(_EconML):
    """``DRLearner`` with LightGBM propensity, outcome and final models."""

    def fit(self, train: Part) -> None:
        from econml.dr import DRLearner

        self.model = DRLearner(
            model_propensity=_lgbm("classifier", self.seed, self.threads),
            model_regression=_lgbm("regressor", self.seed, self.threads),
            model_final=_lgbm("regressor", self.seed, self.threads),
            random_state=self.seed,
        )
        self.model.fit(train.y, train.treatment, X=train.X)


# -- scikit-uplift ----------------------------------------------------------------------------


class SkliftPerOffer(Contender):
    """A scikit-uplift model fitted once per offer, on that offer's and the control's rows."""

    def __init__(self, kind: str, ds: Dataset, seed: int, threads: int) -> None:
        super().__init__(ds, seed, threads)
        self.kind = kind

    def _model(self) -> Any:
        from sklift.models import ClassTransformation, SoloModel, TwoModels

        base = "classifier" if self.ds.binary else "regressor"
        make = partial(_lgbm, base, self.seed, self.threads)
        if self.kind == "SoloModel":
            return SoloModel(estimator=make())
        if self.kind == "TwoModels":
            return TwoModels(estimator_trmnt=make(), estimator_ctrl=make(), method="vanilla")
        return ClassTransformation(estimator=make())

    def fit(self, train: Part) -> None:
        self.models = []
        for k in range(1, len(self.ds.arms)):
            rows = np.flatnonzero((train.treatment == 0) | (train.treatment == k))
            treated = (train.treatment[rows] == k).astype(np.int64)
            self.models.append(self._model().fit(train.X[rows], train.y[rows], treated))

    def predict(self, part: Part) -> np.ndarray:
        return np.column_stack([np.ravel(m.predict(part.X)) for m in self.models]).astype(
            np.float64
        )


# -- the list ---------------------------------------------------------------------------------


def cells(ds_meta: dict[str, Any]) -> list[Cell]:
    """Every competitor for a dataset; binary-only ones are skipped on continuous outcomes."""
    binary = ds_meta["outcome"] == "binary"
    multi = len(ds_meta["arms"]) > 2
    binary_only = None if binary else "binary outcomes only"
    per_offer = "fitted per offer vs control" if multi else ""
    outcome = "Classifier" if binary else "Regressor"
    size = uplift_forest_params()
    forest = f"{size['n_trees']} trees, depth {size['max_depth']}, leaf {size['min_samples_leaf']}"
    out = [
        Cell(
            key=f"causalml/UpliftRandomForest[{c}]",
            library="causalml",
            learner=f"UpliftRandomForestClassifier ({c})",
            setup=f"same size as our uplift_forest: {forest}",
            make=partial(CausalMLForest, c),
            skip=binary_only,
        )
        for c in ("KL", "ED")
    ]
    out += [
        Cell(
            key="causalml/BaseT",
            library="causalml",
            learner=f"BaseT{outcome}",
            setup="LightGBM defaults",
            make=partial(CausalMLMeta, "T", True),
        ),
        Cell(
            key="causalml/BaseX",
            library="causalml",
            learner=f"BaseX{outcome}",
            setup="LightGBM defaults, design propensity",
            make=partial(CausalMLMeta, "X", True),
        ),
        Cell(
            key="causalml/BaseDRLearner",
            library="causalml",
            learner="BaseDRLearner",
            setup="LightGBM defaults, design propensity",
            make=partial(CausalMLMeta, "DR", True),
        ),
        Cell(
            key="causalml/BaseDRLearner[p=default]",
            library="causalml",
            learner="BaseDRLearner (own propensity)",
            setup="LightGBM defaults, causalml's default propensity model",
            make=partial(CausalMLMeta, "DR", False),
        ),
        Cell(
            key="econml/CausalForestDML",
            library="econml",
            learner="CausalForestDML",
            setup="LightGBM nuisances, as many trees as our causal_forest, 90% intervals",
            make=EconMLCausalForest,
        ),
        Cell(
            key="econml/DRLearner",
            library="econml",
            learner="DRLearner",
            setup="LightGBM propensity, regression and final models",
            make=EconMLDR,
        ),
    ]
    for kind in ("SoloModel", "TwoModels", "ClassTransformation"):
        out.append(
            Cell(
                key=f"sklift/{kind}",
                library="scikit-uplift",
                learner=kind,
                setup=", ".join(filter(None, ["LightGBM defaults", per_offer])),
                make=partial(SkliftPerOffer, kind),
                skip=binary_only if kind == "ClassTransformation" else None,
            )
        )
    return out
