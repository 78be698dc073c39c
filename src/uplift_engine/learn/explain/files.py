"""The explanations file: global importance of the features for each offer's uplift.

Columns, one row per (offer, feature), offers in arm order, features by rank:

    offer        string   the offer's arm label (as in ``uplift_<offer>``)
    feature      string   the feature's column name
    mean_abs     float64  mean |share of the offer's unclipped effect| over the explained rows
    mean_signed  float64  mean share (the direction: > 0 raises the uplift on average)
    rank         int32    1 = the most important feature for this offer (by ``mean_abs``)

Shares are in the outcome's units (probability points for a binary outcome). The file's
metadata (:class:`ExplanationsMeta`, with the schema version) travels in the Parquet schema
metadata under the key ``uplift``, and for CSV in a sidecar ``<file>.meta.json`` — as for the
scores contract. Writes are atomic (the lake's).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from uplift_engine.config.settings import Settings
from uplift_engine.lake import write_table
from uplift_engine.learn.explain.contributions import FeatureImportance

EXPLANATIONS_SCHEMA_VERSION = "uplift.explanations/1"


@dataclass(frozen=True)
class ExplanationsMeta:
    """What an explanations file says about itself."""

    rows: int
    """How many rows the importance was averaged over."""
    methods: list[str]
    outcome_kind: str
    model: dict[str, object] = field(default_factory=dict)
    effect: str = "unclipped"
    """The shares add up to the offer's effect before levels are clipped (see learn.explain)."""
    schema_version: str = EXPLANATIONS_SCHEMA_VERSION

    def to_json(self) -> str:
        """The metadata as JSON."""
        return json.dumps(asdict(self), sort_keys=True)


def importance_table(importances: list[FeatureImportance]) -> pa.Table:
    """The global importance as the explanations file's table (schema in the module doc)."""
    return pa.table(
        {
            "offer": pa.array([i.offer for i in importances], pa.string()),
            "feature": pa.array([i.feature for i in importances], pa.string()),
            "mean_abs": pa.array([i.mean_abs for i in importances], pa.float64()),
            "mean_signed": pa.array([i.mean_signed for i in importances], pa.float64()),
            "rank": pa.array([i.rank for i in importances], pa.int32()),
        }
    )


def write_importance(
    importances: list[FeatureImportance],
    meta: ExplanationsMeta,
    uri: str | Path,
    settings: Settings | None = None,
) -> None:
    """Write the explanations file with its metadata (Parquet metadata or a CSV sidecar)."""
    write_table(importance_table(importances), uri, settings, meta=meta.to_json().encode())
