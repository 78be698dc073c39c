"""Tables in and out: CSV or Parquet by the extension, a single file or a Parquet folder.

Everything is Arrow: no pandas on any path. A folder is read as one Parquet dataset (its
``part-*.parquet`` files in name order). Writes are atomic (see :mod:`.storage`).
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from uplift_engine.config import Settings
from uplift_engine.errors import DataError, UserInputError
from uplift_engine.lake.storage import Location, resolve

TABLE_FORMATS = (".csv", ".parquet", ".pq")


def table_format(uri: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the extension; a folder counts as Parquet."""
    suffix = Path(str(uri).rstrip("/")).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq", ""):
        return "parquet"
    raise UserInputError(
        f"cannot tell the format of {str(uri)!r}: expected a .csv or .parquet file or a folder"
    )


def dataset(uri: str | Path, settings: Settings | None = None) -> pads.Dataset:
    """A lazy PyArrow dataset over a Parquet file or folder (local or S3), for DuckDB scans."""
    loc = _existing(uri, settings)
    try:
        if loc.is_dir():
            files = [f.path for f in loc.list_files(".parquet")]
            if not files:
                raise DataError(f"folder {loc.uri!r} holds no .parquet files")
            return pads.dataset(files, filesystem=loc.fs, format="parquet")
        return pads.dataset(loc.path, filesystem=loc.fs, format=table_format(loc.uri))
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {loc.uri!r} as a table: {exc}") from exc


def read_table(
    uri: str | Path,
    settings: Settings | None = None,
    columns: list[str] | None = None,
    *,
    text_columns: tuple[str, ...] = (),
) -> pa.Table:
    """Read a CSV or Parquet file, or a folder of Parquet files, into an Arrow table.

    ``text_columns`` are read from CSV as text, untouched by type inference, so that an id
    such as ``00123`` keeps its leading zeros (Parquet keeps its own types).
    """
    loc = _existing(uri, settings)
    try:
        if table_format(loc.uri) == "csv" and not loc.is_dir():
            convert = pacsv.ConvertOptions(column_types=dict.fromkeys(text_columns, pa.string()))
            table = pacsv.read_csv(io.BytesIO(loc.read_bytes()), convert_options=convert)
            return table.select(columns) if columns else table
        return dataset(uri, settings).to_table(columns=columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(f"cannot read {loc.uri!r} as a table: {exc}") from exc
    except KeyError as exc:
        raise DataError(f"{loc.uri!r} has no column {exc}") from exc


def write_table(table: pa.Table, uri: str | Path, settings: Settings | None = None) -> Location:
    """Write an Arrow table as CSV or Parquet (by the extension), atomically."""
    loc = resolve(uri, settings)
    sink = io.BytesIO()
    if table_format(loc.uri) == "csv":
        pacsv.write_csv(table, sink)
    else:
        pq.write_table(table, sink, compression="zstd")
    loc.write_bytes(sink.getvalue())
    return loc


def _existing(uri: str | Path, settings: Settings | None) -> Location:
    loc = resolve(uri, settings)
    if not loc.exists():
        raise UserInputError(f"no file or folder at {loc.uri!r}")
    return loc
