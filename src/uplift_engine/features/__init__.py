"""Features: declared once (definitions), computed by an engine (DuckDB or Spark), as of a time.

Names are loaded on first use (PEP 562): the scoring path's online read
(``uplift_engine.features.online``) does not pay for DuckDB or PyArrow it never uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CampaignTableSummary": "campaign_table",
    "build_campaign_table": "campaign_table",
    "build_campaign_tables": "campaign_table",
    "campaign_table_schema": "campaign_table",
    "CAMPAIGN_FEATURES": "definitions",
    "EVENTS": "definitions",
    "STREAM_FEATURES": "definitions",
    "EventSource": "definitions",
    "FeatureSpec": "definitions",
    "markdown_table": "definitions",
    "parse_window": "definitions",
    "DuckDBEngine": "duckdb_engine",
    "as_of_bounds": "duckdb_engine",
    "feature_query": "duckdb_engine",
    "EngineChoice": "engines",
    "build_training_sets": "engines",
    "choose_engine": "engines",
    "OfflineEngine": "offline",
    "FeatureRegistry": "registry",
    "default_registry": "registry",
    "load_registry": "registry",
    "REQUEST_FEATURES": "request_time",
    "RequestFeature": "request_time",
    "SkewReport": "consistency",
    "check_consistency": "consistency",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'uplift_engine.features' has no attribute {name!r}")
    return getattr(import_module(f"uplift_engine.features.{module}"), name)
