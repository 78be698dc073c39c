"""Which offline engine builds the training sets: DuckDB by default, Spark above a size.

Invariant: ``auto`` picks Spark exactly when the bytes of the event datasets the features read
(the files under ``LAKE/<dataset>``) exceed ``settings.spark_threshold_bytes``, and DuckDB
otherwise; ``duckdb`` and ``spark`` are taken as asked. Nothing falls back silently: a build
that needs Spark without PySpark installed fails with the command that installs it. Both
engines write the same table (see :mod:`uplift_engine.features.offline.engine`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import pyarrow.fs as pafs

from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError, UserInputError
from uplift_engine.features.definitions import FeatureSpec, check_specs
from uplift_engine.features.offline.campaign_table import (
    TABLE_FEATURES,
    CampaignTableSummary,
    build_campaign_tables,
)
from uplift_engine.features.offline.duckdb_engine import DuckDBEngine
from uplift_engine.lake.storage import resolve

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from uplift_engine.features.offline.engine import OfflineEngine

EngineName = Literal["auto", "duckdb", "spark"]
ENGINES: tuple[str, ...] = get_args(EngineName)


@dataclass(frozen=True)
class EngineChoice:
    """The engine a build runs on, why, and the input size it was chosen by."""

    engine: str
    reason: str
    input_bytes: int

    def to_dict(self) -> dict[str, object]:
        """The choice as plain JSON-ready values."""
        return {"engine": self.engine, "reason": self.reason, "input_bytes": self.input_bytes}


def input_bytes(
    lake_uri: str,
    settings: Settings | None = None,
    features: Sequence[FeatureSpec] = TABLE_FEATURES,
) -> int:
    """The bytes of the Parquet files of the event datasets that ``features`` read."""
    total = 0
    for dataset in sorted({spec.source.dataset for spec in features}):
        loc = resolve(f"{lake_uri.rstrip('/')}/{dataset}", settings)
        selector = pafs.FileSelector(loc.path, recursive=True, allow_not_found=True)
        for info in loc.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
                total += int(info.size or 0)
    return total


def choose_engine(
    requested: str,
    lake_uri: str,
    settings: Settings,
    features: Sequence[FeatureSpec] = TABLE_FEATURES,
) -> EngineChoice:
    """The engine for a build: as ``requested``, or by input size for ``auto``."""
    if requested not in ENGINES:
        raise UserInputError(
            f"engine must be one of {', '.join(ENGINES)}, got {requested!r}", field="engine"
        )
    size = input_bytes(lake_uri, settings, features)
    threshold = settings.spark_threshold_bytes
    if requested != "auto":
        choice = EngineChoice(requested, f"{requested} requested", size)
    elif size > threshold:
        reason = f"events are {size:,} bytes, above spark_threshold_bytes ({threshold:,})"
        choice = EngineChoice("spark", reason, size)
    else:
        reason = f"events are {size:,} bytes, within spark_threshold_bytes ({threshold:,})"
        choice = EngineChoice("duckdb", reason, size)
    if choice.engine == "spark" and not _has_pyspark():
        from uplift_engine.features.spark.session import INSTALL_HINT

        raise ConfigError(
            f"the Spark engine is needed ({choice.reason}) but PySpark is not installed: "
            f"{INSTALL_HINT}; or choose the engine duckdb",
            field="engine",
        )
    return choice


def build_training_sets(
    lake_uri: str,
    campaign_ids: Sequence[str],
    settings: Settings,
    *,
    engine: str = "auto",
    out_uris: Sequence[str] | None = None,
    memory_limit: str = "4GB",
    features: tuple[FeatureSpec, ...] = TABLE_FEATURES,
    spark: SparkSession | None = None,
) -> tuple[EngineChoice, list[CampaignTableSummary]]:
    """Build the point-in-time campaign tables of ``campaign_ids`` on the chosen engine.

    ``spark``: a session to use (kept open); otherwise the active session, or one started
    from the settings for the build and stopped after it.
    """
    specs = check_specs(features)
    choice = choose_engine(engine, lake_uri, settings, specs)
    with _engine(choice.engine, settings, spark) as offline:
        summaries = build_campaign_tables(
            lake_uri,
            campaign_ids,
            settings,
            out_uris=out_uris,
            threads=settings.threads,
            memory_limit=memory_limit,
            features=specs,
            engine=offline,
        )
    return choice, summaries


@contextlib.contextmanager
def _engine(name: str, settings: Settings, spark: SparkSession | None) -> Iterator[OfflineEngine]:
    if name == "duckdb":
        yield DuckDBEngine()
        return
    from pyspark.sql import SparkSession

    from uplift_engine.features.spark import SparkEngine, spark_session

    ours = spark is None and SparkSession.getActiveSession() is None
    session = spark or spark_session(settings)
    offline = SparkEngine(session)
    try:
        yield offline
    finally:
        offline.close()
        if ours:  # a session someone else started (a notebook, a job) stays theirs
            session.stop()


def _has_pyspark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True
