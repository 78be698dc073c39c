"""Our learners as contenders: every entry of ``LEARNERS`` at the time of the run, and ``auto``.

Invariant: each learner is built with its defaults, ``BoosterParams(threads=…)`` and the run's
seed, exactly as ``uplift train --learner NAME`` builds it; a learner added to
``uplift_engine.learn.LEARNERS`` appears here without a change. ``auto`` follows
``uplift_engine.pipeline.train``: :func:`select_learner` over ``AUTO_CANDIDATES`` on the
training part, then a refit of the winner on the whole training part (its fit time includes
the selection). Propensities go in only when the design is not a randomised trial with
constant shares (then our learners take the arm shares themselves).
"""

from __future__ import annotations

import inspect
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np

from learners.contender import Cell, Contender
from learners.datasets import Dataset, Part

UPLIFT_FOREST = "uplift_forest"
CAUSAL_FOREST = "causal_forest"
FOREST_FINAL_STAGE = ("dr_learner", "r_learner")
"""Learners whose ``final_stage="forest"`` gives confidence intervals: a cell of their own."""
BOOTSTRAPPED = ("t_learner", "x_learner")
"""Learners also run with bootstrap (approximate) intervals, whose coverage is reported."""
BOOTSTRAP_REPLICATES = 20


def _propensity(ds: Dataset, part: Part) -> np.ndarray | None:
    return None if ds.randomised else part.received


class OurLearner(Contender):
    """One entry of ``LEARNERS``, with optional constructor arguments."""

    def __init__(
        self, name: str, kwargs: dict[str, Any], ds: Dataset, seed: int, threads: int
    ) -> None:
        super().__init__(ds, seed, threads)
        self.name = name
        self.kwargs = kwargs

    def _build(self, name: str, kwargs: dict[str, Any]) -> Any:
        from uplift_engine.learn.training import LEARNERS, BoosterParams

        return LEARNERS[name](params=BoosterParams(threads=self.threads), seed=self.seed, **kwargs)

    def fit(self, train: Part) -> None:
        self.model = self._build(self.name, self.kwargs).fit(
            train.X,
            train.treatment,
            train.y,
            propensity=_propensity(self.ds, train),
            categorical=self.ds.categorical,
        )
        params = self.model.get_params()
        params.pop("booster", None)
        self.notes["params"] = params

    def predict(self, part: Part) -> np.ndarray:
        return np.asarray(self.model.predict(part.X), np.float64)

    def interval(self, part: Part) -> tuple[np.ndarray, np.ndarray] | None:
        method = getattr(self.model, "predict_interval", None)
        if method is None or not getattr(self.model, "has_intervals", False):
            return None  # e.g. DR/R with a LightGBM final stage: point estimates only
        try:
            low, high = method(part.X)
        except NotImplementedError:
            return None
        return np.asarray(low, np.float64), np.asarray(high, np.float64)


class OurBootstrap(OurLearner):
    """A learner with approximate (bootstrap) intervals, as ``uplift train --intervals
    bootstrap`` builds it: the learner plus ``BOOTSTRAP_REPLICATES`` refits on resamples."""

    def _build(self, name: str, kwargs: dict[str, Any]) -> Any:
        from uplift_engine.learn.training.bootstrap import BootstrapIntervals

        inner = super()._build(name, kwargs)
        return BootstrapIntervals(inner, n_replicates=BOOTSTRAP_REPLICATES, seed=self.seed)


class OurAuto(OurLearner):
    """``--learner auto``: cross-fitted selection on the training part, then a refit."""

    def __init__(self, ds: Dataset, seed: int, threads: int) -> None:
        super().__init__("auto", {}, ds, seed, threads)

    def fit(self, train: Part) -> None:
        import pyarrow as pa

        from uplift_engine.evaluate import select_learner
        from uplift_engine.learn.data import ArmSet, CampaignData
        from uplift_engine.learn.training import AUTO_CANDIDATES, BoosterParams

        data = CampaignData(
            X=train.X,
            treatment=train.treatment,
            y=train.y,
            propensity=_propensity(self.ds, train),
            ids=pa.array(np.arange(len(train.y))),
            arms=ArmSet("arm", tuple(self.ds.arms)),
            # select_learner reads only the encoder's categorical columns
            encoder=SimpleNamespace(categorical_indices=self.ds.categorical),  # type: ignore
            roles=None,  # type: ignore[arg-type]
            outcome_kind=self.ds.meta["outcome"],
        )
        report = select_learner(
            data, AUTO_CANDIDATES, params=BoosterParams(threads=self.threads), seed=self.seed
        )
        self.name = report.winner
        super().fit(train)
        self.notes["winner"] = report.winner
        self.notes["selection"] = {c.learner: round(c.score, 5) for c in report.candidates}


def cells(ds_meta: dict[str, Any]) -> list[Cell]:
    """Every learner of ours for a dataset, in ``LEARNERS`` order, then ``auto``."""
    from uplift_engine.learn.training import LEARNERS

    binary = ds_meta["outcome"] == "binary"
    out = []
    for name, cls in LEARNERS.items():
        takes = inspect.signature(cls.__init__).parameters
        if name == UPLIFT_FOREST and "criterion" in takes:
            criteria = ("KL", "ED") if binary else ("SD",)
            for criterion in criteria:
                out.append(
                    Cell(
                        key=f"ours/{name}[{criterion}]",
                        library="ours",
                        learner=f"{name} ({criterion})",
                        setup=f"defaults ({forest_size()}), criterion {criterion}",
                        make=partial(OurLearner, name, {"criterion": criterion}),
                    )
                )
            continue
        out.append(
            Cell(
                key=f"ours/{name}",
                library="ours",
                learner=name,
                setup=_setup(cls),
                make=partial(OurLearner, name, {}),
            )
        )
        if name in FOREST_FINAL_STAGE and "final_stage" in takes:
            out.append(
                Cell(
                    key=f"ours/{name}[forest]",
                    library="ours",
                    learner=f"{name} (forest final stage)",
                    setup="defaults, final_stage forest: honest forest, confidence intervals",
                    make=partial(OurLearner, name, {"final_stage": "forest"}),
                )
            )
        if name in BOOTSTRAPPED:
            out.append(
                Cell(
                    key=f"ours/{name}[bootstrap]",
                    library="ours",
                    learner=f"{name} + bootstrap",
                    setup=f"defaults, {BOOTSTRAP_REPLICATES} bootstrap refits: approximate "
                    "intervals",
                    make=partial(OurBootstrap, name, {}),
                )
            )
    out.append(
        Cell(
            key="ours/auto",
            library="ours",
            learner="auto",
            setup="select_learner over AUTO_CANDIDATES, then refit of the winner",
            make=OurAuto,
        )
    )
    return out


def _setup(cls: type) -> str:
    params = cls().get_params()
    shown = {k: v for k, v in params.items() if k not in ("seed", "booster")}
    text = ", ".join(f"{k} {v}" for k, v in shown.items())
    return (
        f"defaults ({text}; LightGBM base models)"
        if text
        else "defaults (LightGBM, early stopping)"
    )


def forest_size() -> str:
    """Our uplift forest's default size, as compared with causalml's."""
    size = uplift_forest_params()
    return ", ".join(f"{k} {v}" for k, v in size.items())


def uplift_forest_params() -> dict[str, Any]:
    """Trees, depth and leaf sizes of our uplift forest (its defaults), or causalml-like ones."""
    from uplift_engine.learn.training import LEARNERS

    keys = (
        "n_trees",
        "max_depth",
        "min_samples_leaf",
        "min_samples_treatment",
        "n_reg",
        "max_features",
    )
    fallback = dict(zip(keys, (100, 8, 100, 10, 10.0, 10), strict=True))
    cls = LEARNERS.get(UPLIFT_FOREST)
    if cls is None:
        return fallback
    params = cls().get_params()
    return {k: params.get(k, fallback[k]) for k in keys}


def causal_forest_trees() -> int:
    """Our causal forest's default number of trees (EconML's default 100 when we have none)."""
    from uplift_engine.learn.training import LEARNERS

    cls = LEARNERS.get(CAUSAL_FOREST)
    if cls is None:
        return 100
    return int(cls().get_params().get("n_trees", 100))
