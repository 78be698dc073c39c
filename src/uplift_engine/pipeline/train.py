"""Training as one call: campaign table in, verified bundle and out-of-sample evaluation out.

Steps, in order: column roles (the flags, else the table's declared roles) → encoding →
leakage check (a feature that nearly determines the outcome is refused) → balance check →
the evaluation plan (:mod:`.evaluation_plan`: held out or cross-fitted, by the table's size)
→ learner selection (``auto``, on the rows the evaluated models learn from) → evaluation of
the chosen configuration out of sample → the final fit, on every row unless ``--no-refit`` →
bundle. The manifest records which evaluation the figures come from and which rows the saved
model was fitted on.
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine import __version__
from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError, DataError, UserInputError
from uplift_engine.evaluate import evaluate_uplift, select_learner
from uplift_engine.evaluate.cross_fit import cross_fitted_predictions
from uplift_engine.evaluate.level_calibration import level_calibration
from uplift_engine.lake import check_folder_target, resolve
from uplift_engine.learn import BundleColumns
from uplift_engine.learn.data import assign_roles, check_balance, encode_campaign
from uplift_engine.learn.data.dataset import CampaignData
from uplift_engine.learn.data.leakage import find_leaks
from uplift_engine.learn.data.roles import ColumnRoles, choose, choose_outcome, declared_roles
from uplift_engine.learn.training import (
    AUTO,
    AUTO_CANDIDATES,
    LEARNERS,
    BoosterParams,
    build_manifest,
    write_bundle,
)
from uplift_engine.learn.training.base import UpliftLearner
from uplift_engine.learn.training.boosting import LIBRARIES, Library
from uplift_engine.learn.training.bootstrap import MAX_REPLICATES, BootstrapIntervals
from uplift_engine.pipeline.evaluation_plan import (
    CrossFitted,
    EvaluationPlan,
    HeldOut,
    check_evaluation,
    plan_evaluation,
)
from uplift_engine.pipeline.learner_settings import split_settings

TRAINING_SCHEMA_VERSION = "uplift.training/1"
INTERVAL_METHODS = ("none", "bootstrap")
"""``--intervals``: ``bootstrap`` adds approximate intervals to a learner without its own."""
Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """What ``uplift train`` was asked to do."""

    treatment: str | None = None
    """``--treatment``; None: the column the table declares."""
    control: str | None = None
    outcome: str | None = None
    exclude: tuple[str, ...] = ()
    keep_features: tuple[str, ...] = ()
    """``--keep-feature``: features kept although they nearly determine the outcome."""
    arm_map: Mapping[str, str] = field(default_factory=dict)
    """``--arm-map``: treatment labels read as other labels ("Control" → "control")."""
    id_column: str | None = None
    propensity: str | None = None
    learner: str = AUTO
    base: str = "lightgbm"
    """``--base``: the library of the learners' base models (``lightgbm`` or ``catboost``)."""
    seed: int = 42
    holdout_share: float = 0.3
    evaluation: str = "auto"
    """``--evaluation``: ``auto`` (by the table's size), ``held-out`` or ``cross-fitted``."""
    refit: bool = True
    """``--refit/--no-refit``: fit the bundle's model on every row once it is evaluated."""
    bootstrap: int = 200
    intervals: str = "none"
    replicates: int = 20
    settings: Mapping[str, Any] = field(default_factory=dict)
    """``--set``: the learner's keywords and base-model parameters (``learner_settings``)."""

    def __post_init__(self) -> None:
        _check_intervals(self)
        if self.learner != AUTO and self.learner not in LEARNERS:
            raise ConfigError(
                f"learner {self.learner!r} is not known; choose {AUTO} or one of "
                f"{', '.join(LEARNERS)}",
                field="learner",
            )
        if not 0.05 <= self.holdout_share <= 0.5:
            raise ConfigError(
                f"--holdout must be between 0.05 and 0.5, got {self.holdout_share}",
                field="holdout",
            )
        check_evaluation(self.evaluation, self.refit)
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
    """Rows the bundle's model was fitted on: every row after a refit."""
    validation: dict[str, Any]
    """How the evaluation was measured (:meth:`EvaluationPlan.to_dict`): ``kind`` held_out or
    cross_fitted, its rows, seed, and ``refit``."""
    evaluation: dict[str, Any]
    selection: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What training decided on its own and the user should know (roles taken from the table)."""
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
    settings: Settings,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Train on a randomised campaign table and write the bundle to ``out_uri``."""
    say = progress or (lambda _: None)
    clock = time.perf_counter()
    check_folder_target(resolve(str(out_uri), settings))
    if not overwrite and resolve(str(out_uri), settings).exists():
        raise UserInputError(
            f"{str(out_uri)!r} already exists; choose another path or give --overwrite",
            field="out",
        )
    roles, control, notes = campaign_roles(table, options)
    data = encode_campaign(table, roles, control, options.arm_map)
    encoder = data.encoder
    kept = _check_leaks(data, options) + _repeated_ids(data)
    imbalances = check_balance(
        data.X, data.treatment, encoder.names, data.arms.names, encoder.categorical_indices
    )
    auto = options.learner == AUTO
    plan = plan_evaluation(
        data.treatment,
        list(data.arms.names),
        treatment_column=roles.treatment,
        evaluation=options.evaluation,
        refit=options.refit,
        share=options.holdout_share,
        seed=options.seed,
        bootstrap=options.intervals == "bootstrap",
        auto=auto,
    )
    split = plan.split
    learning = data.subset(split.train_rows) if isinstance(split, HeldOut) else data
    seconds = {"prepare": time.perf_counter() - clock}

    chosen = split_settings(options.learner, options.settings, auto=auto)
    params = BoosterParams(
        **chosen.booster, threads=settings.threads, library=cast(Library, options.base)
    )
    selection = None
    name = options.learner
    if auto:
        say("selecting a learner by cross-fitting")
        clock = time.perf_counter()
        report = select_learner(learning, AUTO_CANDIDATES, params=params, seed=options.seed)
        selection, name = report.to_dict(), report.winner
        seconds["select"] = time.perf_counter() - clock

    def make() -> UpliftLearner:
        return LEARNERS[name](params=params, seed=options.seed, **chosen.learner)

    warnings = kept + [i.describe() for i in imbalances]
    short = make().shortfall(np.bincount(learning.treatment))
    if short is not None:
        warnings.append(short)
    clock = time.perf_counter()
    effects, levels, evaluated, interval_note = _out_of_sample(data, plan, make, options, say)
    scored = data.subset(split.held_rows) if isinstance(split, HeldOut) else data
    evaluation = evaluate_uplift(
        scored.treatment,
        scored.y,
        effects,
        list(data.arms.offers),
        propensity=scored.propensity_matrix(),
        n_boot=options.bootstrap,
        seed=options.seed,
        threads=settings.threads,
    ).to_dict()
    calibration = level_calibration(
        scored.treatment, scored.y, levels, list(data.arms.names), plan.kind
    )
    seconds["evaluate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if evaluated is not None:
        learner, fitted_on = evaluated, learning
    else:
        say(f"fitting {name} on all {len(data.y):,} rows")
        learner, interval_note = _with_intervals(make(), options)
        _fit(learner, data)
        fitted_on = data
    seconds["fit"] = time.perf_counter() - clock

    columns = BundleColumns(
        treatment=roles.treatment,
        outcome=roles.outcome,
        id=roles.id_column,
        propensity=roles.propensity,
        excluded=roles.excluded,
        other_outcomes=roles.other_outcomes,
        arm_map=dict(options.arm_map),
    ).to_manifest()
    manifest = build_manifest(
        graph=learner.export(),
        encoder=encoder,
        arms=list(data.arms.names),
        columns=columns,
        outcome_kind=data.outcome_kind,
        learner={"name": name, "params": learner.get_params()},
        metrics={
            "validation": plan.to_dict(),
            "evaluation": evaluation,
            "selection": selection,
            "level_calibration": calibration,
        },
        fingerprint=fitted_on.fingerprint(),
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
        train_rows=len(fitted_on.y),
        validation=plan.to_dict(),
        evaluation=evaluation,
        selection=selection,
        warnings=warnings + interval_note,
        notes=notes,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        intervals=manifest.get("intervals"),
    )


def campaign_roles(
    table: pa.Table, options: TrainOptions
) -> tuple[ColumnRoles, str, list[str]]:
    """The column roles (flags first, then what the table declares), the control, and notes."""
    if table.num_rows == 0:
        raise DataError("the campaign table has no rows (a header only)")
    declared = declared_roles(table)
    treatment = choose(
        "treatment", options.treatment, declared.treatment, "the column with each row's arm"
    )
    same = treatment == declared.treatment
    control = choose(
        "control", options.control, declared.control if same else None, "the control arm's label"
    )
    outcome = choose_outcome(options.outcome, declared)
    roles = assign_roles(
        table,
        treatment=treatment,
        outcome=outcome,
        id_column=options.id_column or declared.id_column,
        propensity=options.propensity,
        exclude=options.exclude,
        other_outcomes=declared.outcomes,
    )
    notes = []
    taken = [
        f"{role} {value}"
        for role, given, value in (
            ("treatment", options.treatment, treatment),
            ("control", options.control, control),
            ("outcome", options.outcome, outcome),
        )
        if given is None
    ]
    if taken:
        notes.append(f"as the table declares: {', '.join(taken)}")
    if roles.other_outcomes:
        others = ", ".join(map(repr, roles.other_outcomes))
        notes.append(
            f"left out {others}: the table declares it an outcome, measured after the offer"
        )
    return roles, control, notes


def _check_leaks(data: CampaignData, options: TrainOptions) -> list[str]:
    """Refuse features that nearly determine the outcome; warnings for those the user keeps."""
    names = data.encoder.names
    unknown = [c for c in options.keep_features if c not in names]
    if unknown:
        raise DataError(
            f"the columns to keep as features name {', '.join(map(repr, unknown))}, which are "
            "not features of this table",
            field="keep_feature",
        )
    binary = data.outcome_kind == "binary"
    leaks = find_leaks(
        data.X, data.y, names, data.encoder.categorical_indices, binary=binary, seed=options.seed
    )
    outcome = data.roles.outcome
    refused = [leak for leak in leaks if leak.feature not in options.keep_features]
    if refused:
        leak = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise DataError(
            f"{leak.describe(outcome, binary)}{more}: it is most likely measured after the offer, "
            "and a model that learns from it looks excellent here and fails in the field. "
            f"Exclude {leak.feature!r}, or keep it as a feature by name if it is known before "
            "the offer",
            field="keep_feature",
        )
    return [
        f"{leak.describe(outcome, binary)}; kept as a feature because it was named to keep"
        for leak in leaks
    ]


def _repeated_ids(data: CampaignData) -> list[str]:
    """A warning when ids repeat: a campaign has each customer once, so a join went wrong."""
    if not data.roles.id_in_table:
        return []
    ids = data.ids
    repeated = len(ids) - pc.count_distinct(ids).as_py()
    if repeated == 0:
        return []
    counts = pc.value_counts(ids)
    first = next(v["values"] for v in counts.to_pylist() if v["counts"] > 1)
    return [
        f"{repeated:,} row(s) repeat an id of column {data.roles.id_column!r} (first: {first!r}); "
        "a campaign has each customer once: check how the table was built"
    ]


def _out_of_sample(
    data: CampaignData,
    plan: EvaluationPlan,
    make: Callable[[], UpliftLearner],
    options: TrainOptions,
    say: Progress,
) -> tuple[np.ndarray, np.ndarray, UpliftLearner | None, list[str]]:
    """The evaluated effects and outcome levels, and the evaluated model if it is the bundle's.

    The model (kept when there is no refit) comes with the note on its intervals. Held out: a
    model fitted on the training part scores the held-out rows. Cross-fitted: each fold is
    scored by a model fitted on the other folds.
    """
    split = plan.split
    if isinstance(split, CrossFitted):
        say(f"evaluating by cross-fitting on {split.folds} folds")
        return (*cross_fitted_predictions(data, make, split.fold), None, [])
    train, held = data.subset(split.train_rows), data.subset(split.held_rows)
    say(f"fitting on {len(train.y):,} rows and evaluating on the {len(held.y):,} held out")
    if plan.refit:
        model = _fit(make(), train)
        return model.predict(held.X), model.predict_outcomes(held.X), None, []
    learner, note = _with_intervals(make(), options)
    _fit(learner, train)
    return learner.predict(held.X), learner.predict_outcomes(held.X), learner, note


def _fit(learner: UpliftLearner, data: CampaignData) -> UpliftLearner:
    return learner.fit(
        data.X,
        data.treatment,
        data.y,
        propensity=data.propensity,
        categorical=data.encoder.categorical_indices,
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
    if options.intervals != "bootstrap" or options.learner not in LEARNERS:
        return
    chosen = split_settings(options.learner, options.settings, auto=False)
    if LEARNERS[options.learner](**chosen.learner).has_intervals:
        raise ConfigError(
            f"{options.learner} gives its own 90% confidence intervals; bootstrap intervals "
            "are for learners without them: drop them",
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
