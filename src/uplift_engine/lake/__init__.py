"""The lake: Parquet datasets on a local folder or S3, read and written as Arrow tables."""

from uplift_engine.lake import layout
from uplift_engine.lake.storage import Location, atomic_folder, resolve
from uplift_engine.lake.tables import dataset, read_table, table_format, write_table

__all__ = [
    "Location",
    "atomic_folder",
    "dataset",
    "layout",
    "read_table",
    "resolve",
    "table_format",
    "write_table",
]
