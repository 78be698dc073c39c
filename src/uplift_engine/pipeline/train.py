"""Training as one call: campaign table in, verified bundle and held-out evaluation out.

Steps, in order: column roles → encoding → balance check → held-out split (stratified by
arm, seeded) → learner selection on the training part (``auto``) → fit → evaluation on the
held-out part → bundle. The bundle holds the model fitted on the training part, so the
evaluation printed is the evaluation of exactly the model that is saved.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

AUTO = "auto"
AUTO_CANDIDATES = ("t_learner", "x_learner", "dr_learner")
"""What ``--learner auto`` cross-fits and compares (every one must be in ``LEARNERS``)."""
TRAINING_SCHEMA_VERSION = "uplift.training/1"
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
    seed: int = 42
    holdout_share: float = 0.3
    bootstrap: int = 200

    def __post_init__(self) -> None:
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

    params = BoosterParams(threads=settings.threads)
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
    learner = LEARNERS[name](params=params, seed=options.seed).fit(
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
        versions=_versions(),
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
        warnings=[i.describe() for i in imbalances],
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )


def _versions() -> dict[str, str]:
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
    }
