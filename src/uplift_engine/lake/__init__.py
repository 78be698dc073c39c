"""The lake: Parquet datasets on a local folder or S3, read and written as Arrow tables."""

from uplift_engine.lake import layout
from uplift_engine.lake.datasets import replace_dataset
from uplift_engine.lake.generations import Generation, writing
from uplift_engine.lake.quality import CHECKS, Check, QualityRule, quarantine_path
from uplift_engine.lake.sessions import duckdb_session
from uplift_engine.lake.storage import (
    Location,
    atomic_folder,
    check_file_target,
    check_folder_target,
    check_writable,
    resolve,
)
from uplift_engine.lake.tables import (
    check_table_target,
    dataset,
    read_table,
    read_table_and_meta,
    table_format,
    write_table,
)
from uplift_engine.lake.validate import LakeValidator, Validation

__all__ = [
    "CHECKS",
    "Check",
    "Generation",
    "LakeValidator",
    "Location",
    "QualityRule",
    "Validation",
    "atomic_folder",
    "check_file_target",
    "check_folder_target",
    "check_table_target",
    "check_writable",
    "dataset",
    "duckdb_session",
    "layout",
    "quarantine_path",
    "read_table",
    "read_table_and_meta",
    "replace_dataset",
    "resolve",
    "table_format",
    "write_table",
    "writing",
]
