"""Features: declared once (definitions), computed by an engine (DuckDB), as of a time."""

from uplift_engine.features.campaign_table import (
    CampaignTableSummary,
    build_campaign_table,
    build_campaign_tables,
    campaign_table_schema,
)
from uplift_engine.features.definitions import (
    CAMPAIGN_FEATURES,
    EVENTS,
    EventSource,
    FeatureSpec,
    markdown_table,
    parse_window,
)
from uplift_engine.features.duckdb_engine import as_of_bounds, feature_query

__all__ = [
    "CAMPAIGN_FEATURES",
    "EVENTS",
    "CampaignTableSummary",
    "EventSource",
    "FeatureSpec",
    "as_of_bounds",
    "build_campaign_table",
    "build_campaign_tables",
    "campaign_table_schema",
    "feature_query",
    "markdown_table",
    "parse_window",
]
