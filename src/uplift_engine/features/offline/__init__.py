"""Offline features: point-in-time training sets and online values computed from the lake.

Every feature of the registry is computed by one engine from its declaration — DuckDB in
process (:class:`DuckDBEngine`) or Spark above a size (:mod:`uplift_engine.features.spark`),
chosen by :func:`choose_engine` — into a campaign table (:func:`build_campaign_tables`, as of
each customer's assignment) or into the online store (:func:`materialize`, as of one time);
:func:`check_consistency` compares the online values with the offline ones.
"""

from uplift_engine.features.offline.campaign_table import (
    ASSIGNMENT_CONTEXT,
    TABLE_FEATURES,
    CampaignTableSummary,
    build_campaign_table,
    build_campaign_tables,
    campaign_table_schema,
    table_roles,
)
from uplift_engine.features.offline.consistency import SkewReport, check_consistency
from uplift_engine.features.offline.duckdb_engine import (
    AS_OF,
    DuckDBEngine,
    as_of_bounds,
    feature_query,
)
from uplift_engine.features.offline.engine import OfflineEngine, source_checks
from uplift_engine.features.offline.engines import (
    EngineChoice,
    build_training_sets,
    choose_engine,
)
from uplift_engine.features.offline.lake_values import LakeFeatures, lake_features
from uplift_engine.features.offline.materialize import MaterializeSummary, materialize
from uplift_engine.features.offline.simulated import SimulatedLake, simulate_lake
from uplift_engine.features.offline.source_checks import check_name, source_check

__all__ = [
    "ASSIGNMENT_CONTEXT",
    "AS_OF",
    "TABLE_FEATURES",
    "CampaignTableSummary",
    "DuckDBEngine",
    "EngineChoice",
    "LakeFeatures",
    "MaterializeSummary",
    "OfflineEngine",
    "SimulatedLake",
    "SkewReport",
    "as_of_bounds",
    "build_campaign_table",
    "build_campaign_tables",
    "build_training_sets",
    "campaign_table_schema",
    "check_consistency",
    "check_name",
    "choose_engine",
    "feature_query",
    "lake_features",
    "materialize",
    "simulate_lake",
    "source_check",
    "source_checks",
    "table_roles",
]
