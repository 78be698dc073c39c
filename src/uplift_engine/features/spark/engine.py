"""The Spark tier of the offline engine: events validated and aggregated by Spark.

Invariant: the engine implements :class:`~uplift_engine.features.offline.OfflineEngine`
with Spark doing what grows with the data — reading, validating and aggregating the event
datasets (:mod:`.validate`, :func:`~uplift_engine.features.offline.spark_engine.feature_frame`) —
while the campaign-table build keeps the small datasets, the final join, the row order and
the writer in DuckDB on the driver. So the two tiers write the same table: equal keys and
rows, equal counts, floating-point values equal up to the order of additions (~1e-15).
The entities (one row per assignment) go to Spark and the features (one row per assignment)
come back through Arrow; the events never leave Spark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.offline.duckdb_engine import AS_OF
from uplift_engine.features.offline.spark_engine import feature_frame
from uplift_engine.features.spark.validate import validate_dataset
from uplift_engine.lake.datasets import arrow_reader

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import DataFrame, SparkSession

    from uplift_engine.lake.validate import LakeValidator

_BATCH = 1_000_000


class SparkEngine:
    """The heavy tier: a Spark session (local, a cluster, EMR Serverless) does the events."""

    name = "spark"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._valid: dict[str, DataFrame] = {}
        self._cached: list[DataFrame] = []
        self._built = 0

    def prepare(self, validator: LakeValidator, datasets: Sequence[str]) -> dict[str, int]:
        """Validate the event datasets in Spark; quarantine written; rows quarantined per name."""
        counts = {}
        for name in datasets:
            check = validator.checks[name]
            done = validate_dataset(
                self.spark,
                validator.lake_uri,
                check,
                validator.settings,
                generation=validator.generation,
            )
            self._valid[name] = done.valid
            self._cached.extend(done.cached)
            counts[name] = done.quarantined
        return counts

    def close(self) -> None:
        """Release what the build cached in Spark (the session itself stays open)."""
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()
        self._valid.clear()

    def features(
        self,
        con: duckdb.DuckDBPyConnection,
        specs: tuple[FeatureSpec, ...],
        entities: str,
        sources: Mapping[str, str],
        *,
        carry: tuple[str, ...],
        bounds: tuple[int, int] | None,
    ) -> str:
        """Ship ``entities`` to Spark, compute the features there, register them in ``con``."""
        columns = ", ".join(f'"{c}"' for c in ("customer_id", AS_OF, *carry))
        rows = arrow_reader(con.sql(f"SELECT {columns} FROM {entities}"), _BATCH).read_all()
        frame = self.spark.createDataFrame(rows)
        frames = {source: self._valid[check] for source, check in sources.items()}
        result = feature_frame(specs, frame, frames, carry=carry, bounds=bounds).toArrow()
        self._built += 1
        name = f"spark_features_{self._built}"
        con.register(name, result)
        return name
