"""Training as one call: campaign table in, verified bundle and held-out evaluation out.

Steps, in order: column roles → encoding → balance check → held-out split (stratified by
arm, seeded) → learner selection on the training part (``auto``) → fit → evaluation on the
held-out part → bundle. The bundle holds the model fitted on the training part, so the
evaluation printed is the evaluation of exactly the model that is saved.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any, cast

import pyarrow as pa

from uplift_engine import __version__
from uplift_engine.config import Settings
from uplift_engine.errors import ConfigError
from uplift_engine.evaluate import evaluate_uplift, select_learner
from uplift_engine.learn import (
    LEARNERS,
    BoosterParams,
    assign_roles,
    build_manifest,
    check_balance,
    holdout_split,
    prepare_campaign,
    write_bundle,
)
from uplift_engine.learn.base import UpliftLearner
from uplift_engine.learn.boosting import LIBRARIES, Library
from uplift_engine.learn.bootstrap import MAX_REPLICATES, BootstrapIntervals
from uplift_engine.pipeline.learner_settings import split_settings

AUTO = "auto"
AUTO_CANDIDATES = (
    "s_learner",
    "t_learner",
    "x_learner",
    "dr_learner",
    "r_learner",
    "uplift_forest",
    "causal_forest",
)
"""What ``--learner auto`` cross-fits and compares (every one must be in ``LEARNERS``), simplest
first: of the candidates statistically tied with the best score, the first wins."""
TRAINING_SCHEMA_VERSION = "uplift.training/1"
INTERVAL_METHODS = ("none", "bootstrap")
"""``--intervals``: ``bootstrap`` adds approximate intervals to a learner without its own."""
Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """What ``uplift train`` was asked to do."""

    treatment: str
    control: str
    outcome: str
    exclude: tuple[str, ...] = ()
    id_column: str | None = None
    propensity: str | None = None
    learner: str = AUTO
    base: str = "lightgbm"
    """``--base``: the library of the learners' base models (``lightgbm`` or ``catboost``)."""
    seed: int = 42
    holdout_share: float = 0.3
    bootstrap: int = 200
    intervals: str = "none"
    replicates: int = 20
    settings: Mapping[str, Any] = field(default_factory=dict)
    """``--set``: the learner's keywords and base-model parameters (``learner_settings``)."""

    def __post_init__(self) -> None:
        _check_intervals(self)
        if self.learner != AUTO and self.learner not in LEARNERS:
            raise ConfigError(
                f"--learner {self.learner!r} is not known; choose auto or one of "
                f"{', '.join(sorted(LEARNERS))}",
                field="learner",
            )
        if not 0.05 <= self.holdout_share <= 0.5:
            raise ConfigError(
                f"--holdout must be between 0.05 and 0.5, got {self.holdout_share}",
                field="holdout",
            )
        if self.base not in LIBRARIES:
            raise ConfigError(
                f"--base {self.base!r} is not known; choose one of {', '.join(LIBRARIES)}",
                field="base",
            )
        if self.base == "catboost" and find_spec("catboost") is None:
            raise ConfigError(
                "--base catboost needs the catboost package: pip install 'uplift-engine[catboost]'",
                field="base",
            )
        split_settings(self.learner, self.settings, auto=self.learner == AUTO)


@dataclass
class TrainResult:
    """What training produced, for printing and for ``--json``."""

    bundle: str
    manifest_sha256: str
    learner: str
    outcome_kind: str
    arms: list[str]
    features: list[str]
    dropped_datetime: list[str]
    train_rows: int
    holdout: dict[str, Any]
    evaluation: dict[str, Any]
    selection: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, Any] | None = None
    """``{"level": 0.9, "kind": "confidence"|"approximate"}`` when the model bounds its effects."""
    schema_version: str = TRAINING_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def train_bundle(
    table: pa.Table,
    options: TrainOptions,
    out_uri: str | Path,
    settings: Settings | None = None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Train on a randomised campaign table and write the bundle to ``out_uri``."""
    settings = settings or Settings()
    say = progress or (lambda _: None)
    clock = time.perf_counter()
    roles = assign_roles(
        table,
        treatment=options.treatment,
        outcome=options.outcome,
        id_column=options.id_column,
        propensity=options.propensity,
        exclude=options.exclude,
    )
    data = prepare_campaign(table, roles, options.control)
    encoder = data.encoder
    imbalances = check_balance(
        data.X, data.treatment, encoder.names, data.arms.names, encoder.categorical_indices
    )
    train_rows, held_rows = holdout_split(data.treatment, options.holdout_share, options.seed)
    train, held = data.subset(train_rows), data.subset(held_rows)
    seconds = {"prepare": time.perf_counter() - clock}

    chosen = split_settings(options.learner, options.settings, auto=options.learner == AUTO)
    params = BoosterParams(
        **chosen.booster, threads=settings.threads, library=cast(Library, options.base)
    )
    selection = None
    name = options.learner
    if name == AUTO:
        say("selecting a learner by cross-fitting")
        clock = time.perf_counter()
        report = select_learner(train, AUTO_CANDIDATES, params=params, seed=options.seed)
        selection, name = report.to_dict(), report.winner
        seconds["select"] = time.perf_counter() - clock

    say(f"fitting {name}")
    clock = time.perf_counter()
    learner, interval_note = _with_intervals(
        LEARNERS[name](params=params, seed=options.seed, **chosen.learner), options
    )
    learner.fit(
        train.X,
        train.treatment,
        train.y,
        propensity=train.propensity,
        categorical=encoder.categorical_indices,
    )
    seconds["fit"] = time.perf_counter() - clock

    say("evaluating on the held-out rows")
    clock = time.perf_counter()
    evaluation = evaluate_uplift(
        held.treatment,
        held.y,
        learner.predict(held.X),
        list(data.arms.offers),
        propensity=held.propensity_matrix(),
        n_boot=options.bootstrap,
        seed=options.seed,
        threads=settings.threads,
    ).to_dict()
    seconds["evaluate"] = time.perf_counter() - clock

    holdout = {"rows": len(held_rows), "share": options.holdout_share, "seed": options.seed}
    columns = {
        "treatment": roles.treatment,
        "outcome": roles.outcome,
        "id": roles.id_column,
        "propensity": roles.propensity,
        "excluded": list(roles.excluded),
    }
    manifest = build_manifest(
        graph=learner.export(),
        encoder=encoder,
        arms=list(data.arms.names),
        columns=columns,
        outcome_kind=data.outcome_kind,
        learner={"name": name, "params": learner.get_params()},
        metrics={"holdout": holdout, "evaluation": evaluation, "selection": selection},
        fingerprint=train.fingerprint(),
        versions=_versions(options.base),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    checksum = write_bundle(manifest, learner.export(), out_uri, settings, overwrite=overwrite)
    return TrainResult(
        bundle=str(out_uri),
        manifest_sha256=checksum,
        learner=name,
        outcome_kind=data.outcome_kind,
        arms=list(data.arms.names),
        features=encoder.names,
        dropped_datetime=list(roles.dropped_datetime),
        train_rows=len(train_rows),
        holdout=holdout,
        evaluation=evaluation,
        selection=selection,
        warnings=[i.describe() for i in imbalances] + interval_note,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        intervals=manifest.get("intervals"),
    )


def _check_intervals(options: TrainOptions) -> None:
    """``--intervals`` and ``--replicates`` hold, and the learner has no intervals of its own."""
    if options.intervals not in INTERVAL_METHODS:
        raise ConfigError(
            f"--intervals {options.intervals!r} is not known; choose one of "
            f"{', '.join(INTERVAL_METHODS)}",
            field="intervals",
        )
    if not 2 <= options.replicates <= MAX_REPLICATES:
        raise ConfigError(
            f"--replicates must be between 2 and {MAX_REPLICATES}, got {options.replicates}",
            field="replicates",
        )
    learner = LEARNERS.get(options.learner)
    if options.intervals == "bootstrap" and learner is not None and learner.has_intervals:
        raise ConfigError(
            f"--learner {options.learner} gives its own 90% confidence intervals; "
            "--intervals bootstrap is for learners without them: drop it",
            field="intervals",
        )


def _with_intervals(
    learner: UpliftLearner, options: TrainOptions
) -> tuple[UpliftLearner, list[str]]:
    """The learner to fit (wrapped for bootstrap intervals when asked), and a note for the user."""
    if options.intervals != "bootstrap":
        return learner, []
    if learner.has_intervals:  # ``auto`` chose a learner with confidence intervals: keep them
        return learner, [f"{learner.name} keeps its own confidence intervals (not bootstrap)"]
    wrapped = BootstrapIntervals(learner, n_replicates=options.replicates, seed=options.seed)
    return wrapped, []


def _versions(base: str = "lightgbm") -> dict[str, str]:
    import duckdb
    import lightgbm
    import numpy

    return {
        "uplift_engine": __version__,
        "lightgbm": lightgbm.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
        "python": platform.python_version(),
    } | ({"catboost": _catboost_version()} if base == "catboost" else {})


def _catboost_version() -> str:
    import catboost

    return str(catboost.__version__)
