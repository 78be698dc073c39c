"""The Spark tier of the offline features: session, validation of events, engine, job."""

from uplift_engine.features.spark.engine import SparkEngine
from uplift_engine.features.spark.session import (
    require_pyspark,
    s3a_conf,
    spark_path,
    spark_session,
)
from uplift_engine.features.spark.validate import (
    SparkValidation,
    read_dataset,
    spark_condition,
    validate_dataset,
    validate_frame,
)

__all__ = [
    "SparkEngine",
    "SparkValidation",
    "read_dataset",
    "require_pyspark",
    "s3a_conf",
    "spark_condition",
    "spark_path",
    "spark_session",
    "validate_dataset",
    "validate_frame",
]
