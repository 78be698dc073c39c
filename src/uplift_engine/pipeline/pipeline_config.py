"""What ``uplift pipeline run`` is told: where the lake and the releases are, how to train and gate.

One YAML or JSON file (``--config``), validated strictly (an unknown field or a bad value is one
error naming it). Paths are relative to the file's folder. Economics and policy are files of
their own (docs/decide.md) or the same mappings inline. Every field that changes what a run
produces is part of the run's key (:func:`PipelineConfig.fingerprint`): running twice with the
same config on the same inputs does nothing new.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from uplift_engine.config.files import read_mapping
from uplift_engine.config.strict import StrictModel
from uplift_engine.lake.storage import resolve
from uplift_engine.pipeline.mlflow_log import MlflowConfig

WHAT = "pipeline config"


class GateConfig(StrictModel):
    """When a candidate replaces the champion."""

    metric: Literal["policy_value", "qini"] = "policy_value"
    """``policy_value``: each model's plan valued doubly robust on the gate customers (profit per
    customer, Measurement's estimator); ``qini``: the mean Qini coefficient over offers."""
    margin: float = Field(default=0.0, ge=0)
    """The candidate must beat the champion by more than this (the metric's unit)."""
    level: float = Field(default=0.9, gt=0.5, lt=1)
    """The confidence of the paired difference's interval, whose lower end must pass 0."""
    share: float = Field(default=0.3, ge=0.1, le=0.5)
    """The latest campaign's customers held out from training to judge on."""
    groups: list[str] = Field(default_factory=list)
    """Columns whose groups the candidate's plan must treat within the four-fifths rule."""
    max_flagged_groups: int | None = Field(default=None, ge=0)
    """At most this many groups flagged in those columns (None: reported, not enforced)."""


class DriftConfig(StrictModel):
    """Drift between the champion's training data and the latest campaign's customers."""

    max_psi: float = Field(default=0.25, gt=0)
    max_drifted: int = Field(default=3, ge=1)
    retrain: Literal["on_new_data", "on_drift"] = "on_new_data"
    """``on_drift``: new data alone does not retrain a champion whose population has not moved."""


class PipelineConfig(StrictModel):
    """The whole pipeline: data, training, pricing, the gate and where releases go."""

    what = WHAT

    lake: str
    """The lake whose ``raw/`` datasets are the inputs (new partitions land there)."""
    releases: str
    """The release root the services watch; the registry and the run records live there."""
    campaign: str = "latest"
    """The campaign to train on: an id, or ``latest`` (the latest to start; ties by id)."""
    materialize: bool = False
    """Put every customer's batch features into the settings' online store after the lake's
    features are built (what the services read), as ``uplift features materialize`` does."""
    outcome: str = "converted"
    learner: str = "auto"
    exclude: list[str] = Field(default_factory=list)
    """Columns the candidate must not read."""
    learner_settings: dict[str, Any] = Field(default_factory=dict)
    seed: int = Field(default=42, ge=0)
    economics: str | dict[str, Any]
    policy: str | dict[str, Any] | None = None
    value: float = Field(gt=0)
    """The value of a conversion (the economics' unit)."""
    budget_per_customer: float = Field(gt=0)
    """The plan's budget, per customer planned."""
    promote_to: Literal["champion", "challenger"] = "champion"
    """Where a candidate that passes the gate goes: served at once, or beside the champion
    (shadow or a share of traffic) until promoted."""
    gate: GateConfig = Field(default_factory=GateConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    mlflow: MlflowConfig | None = None
    """An MLflow tracking server to mirror runs, models and aliases to (the ``mlflow`` extra);
    not part of a run's key: where runs are mirrored does not change what they make."""
    base: Path = Field(default=Path("."), exclude=True)
    """The folder relative paths are read from (the config file's)."""

    @field_validator("learner")
    @classmethod
    def _learner(cls, learner: str) -> str:
        from uplift_engine.learn.training import LEARNERS

        if learner != "auto" and learner not in LEARNERS:
            raise ValueError(f"choose auto or one of {', '.join(LEARNERS)}")
        return learner

    def path(self, value: str) -> str:
        """``value`` read relative to the config file (URIs and absolute paths as they are)."""
        if "://" in value or Path(value).is_absolute():
            return value
        return str(self.base / value)

    def fingerprint(self) -> str:
        """SHA-256 of everything that shapes a run's output (files' contents included)."""
        data = self.model_dump(mode="json", exclude={"base", "mlflow"})
        for key in ("economics", "policy"):
            if isinstance(data[key], str):
                data[key] = resolve(self.path(data[key])).read_bytes().decode("utf-8", "replace")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """The pipeline config in the YAML or JSON file ``path``."""
    data = read_mapping(path, WHAT, field="config")
    return PipelineConfig(**data, base=Path(path).resolve().parent)
