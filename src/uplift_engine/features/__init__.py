"""features layer: declared once, computed offline for training and online for deciding.

This face is the request corridor's (standard library, the online store's client): feature
declarations (:mod:`.definitions`, :mod:`.request_time`, :class:`FeatureRegistry`), the online
read (:class:`FeatureReader` over :func:`open_store`) and the stream (:mod:`.streaming`). The
offline engines — DuckDB, Spark, campaign tables, materialisation — are
:mod:`uplift_engine.features.offline`'s.
"""

from uplift_engine.features.declarations import load_registry, registry_from_dict
from uplift_engine.features.definitions import (
    CAMPAIGN_FEATURES,
    EVENTS,
    STREAM_FEATURES,
    EventSource,
    FeatureSpec,
    check_specs,
    markdown_table,
    parse_window,
)
from uplift_engine.features.online import FeatureReader, OnlineStore, open_store
from uplift_engine.features.registry import FeatureRegistry, default_registry
from uplift_engine.features.request_time import REQUEST_FEATURES, RequestFeature

__all__ = [
    "CAMPAIGN_FEATURES",
    "EVENTS",
    "REQUEST_FEATURES",
    "STREAM_FEATURES",
    "EventSource",
    "FeatureReader",
    "FeatureRegistry",
    "FeatureSpec",
    "OnlineStore",
    "RequestFeature",
    "check_specs",
    "default_registry",
    "load_registry",
    "markdown_table",
    "open_store",
    "parse_window",
    "registry_from_dict",
]
