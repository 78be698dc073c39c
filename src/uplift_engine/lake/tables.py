"""Tables in and out: CSV or Parquet by the extension, a single file or a Parquet folder.

Everything is Arrow: no pandas on any path. A folder is read as one Parquet dataset: the files
its lake's committed generation lists (see :mod:`.generations`), or for a folder outside any
lake its ``*.parquet`` files, in name order. Writes are atomic (see :mod:`.storage`).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError, UserInputError
from uplift_engine.lake.generations import Generation, dataset_files
from uplift_engine.lake.storage import Location, check_file_target, resolve

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


def check_table_target(uri: str | Path, settings: Settings | None = None) -> None:
    """Refuse, before any work, a table output with an unknown extension or an unwritable path."""
    table_format(uri)
    check_file_target(resolve(uri, settings))


def dataset(
    uri: str | Path, settings: Settings | None = None, *, generation: Generation | None = None
) -> pads.Dataset:
    """A lazy PyArrow dataset over a Parquet file or folder (local or S3), for DuckDB scans.

    ``generation``: an open generation whose own files of this dataset are read instead.
    """
    loc = _existing(uri, settings)
    try:
        if loc.is_dir():
            files = [f.path for f in dataset_files(loc, generation=generation)]
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
    table, _ = read_table_and_meta(uri, settings, columns, text_columns=text_columns)
    return table


def read_table_and_meta(
    uri: str | Path,
    settings: Settings | None = None,
    columns: list[str] | None = None,
    *,
    text_columns: tuple[str, ...] = (),
    text_columns_from: Callable[[bytes], tuple[str, ...]] | None = None,
) -> tuple[pa.Table, bytes | None]:
    """A table and the metadata :func:`write_table` stored with it (None when there is none).

    ``text_columns_from(meta)`` adds CSV text columns named by the metadata (e.g. the id).
    A CSV whose sidecar holds no metadata for its current bytes (the file was edited, or
    belongs to another write) is refused.
    """
    loc = _existing(uri, settings)
    try:
        if table_format(loc.uri) == "csv" and not loc.is_dir():
            data = loc.read_bytes()
            meta = _sidecar_meta(loc, data, settings)
            if meta is not None and text_columns_from is not None:
                text_columns = (*text_columns, *text_columns_from(meta))
            table = _read_csv(data, loc.uri, text_columns)
            return (table.select(columns) if columns else table), meta
        table = dataset(uri, settings).to_table(columns=columns)
        return table, (table.schema.metadata or {}).get(META_KEY)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(f"cannot read {loc.uri!r} as a table: {exc}") from exc
    except KeyError as exc:
        raise DataError(f"{loc.uri!r} has no column {exc}") from exc


def write_table(
    table: pa.Table,
    uri: str | Path,
    settings: Settings | None = None,
    *,
    meta: bytes | None = None,
) -> Location:
    """Write an Arrow table as CSV or Parquet (by the extension), atomically.

    ``meta`` (JSON) travels with the table: in the Parquet schema metadata under ``uplift``,
    or for CSV in a sidecar ``<file>.meta.json`` written first, which keys the metadata by the
    CSV's SHA-256 and keeps the previous file's entry too, so that a write killed between the
    two files leaves the old CSV with its own metadata.
    """
    loc = resolve(uri, settings)
    sink = io.BytesIO()
    csv = table_format(loc.uri) == "csv"
    if csv:
        pacsv.write_csv(table, sink)
    else:
        if meta is not None:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: meta})
        pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue()
    if csv and meta is not None:
        _write_sidecar(loc, data, meta, settings)
    loc.write_bytes(data)
    return loc


META_KEY = b"uplift"
SIDECAR_SCHEMA_VERSION = "uplift.sidecar/1"


def sidecar(loc: Location, settings: Settings | None = None) -> Location:
    """Where a CSV file's metadata lives: ``<file>.meta.json`` beside it."""
    return resolve(f"{loc.uri}.meta.json", settings)


def _write_sidecar(loc: Location, data: bytes, meta: bytes, settings: Settings | None) -> None:
    entries = {hashlib.sha256(data).hexdigest(): meta.decode()}
    if loc.exists() and not loc.is_dir():
        old = loc.read_bytes()
        try:
            previous = _sidecar_meta(loc, old, settings, strict=False)
        except DataError:  # an unreadable sidecar: the new one replaces it
            previous = None
        if previous is not None:
            entries.setdefault(hashlib.sha256(old).hexdigest(), previous.decode())
    body = {"schema_version": SIDECAR_SCHEMA_VERSION, "tables": entries}
    sidecar(loc, settings).write_bytes(json.dumps(body, sort_keys=True).encode())


def _sidecar_meta(
    loc: Location, data: bytes, settings: Settings | None, *, strict: bool = True
) -> bytes | None:
    side = sidecar(loc, settings)
    if not side.exists():
        return None
    try:
        body = json.loads(side.read_bytes())
    except ValueError as exc:
        raise DataError(f"{side.uri!r} is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("schema_version") != SIDECAR_SCHEMA_VERSION:
        return side.read_bytes()  # a sidecar of an earlier release: the metadata itself
    found = body.get("tables", {}).get(hashlib.sha256(data).hexdigest())
    if found is None and strict:
        raise DataError(
            f"{loc.uri!r} does not match its metadata in {side.uri!r}: the file was changed "
            "after it was written; write it again, or delete the sidecar to read it without"
        )
    return None if found is None else str(found).encode()


def _read_csv(data: bytes, uri: str, text_columns: tuple[str, ...]) -> pa.Table:
    """Parse CSV bytes, with messages that say what is wrong with the file."""
    if not data.strip():
        raise DataError(f"{uri!r} is empty: it has no header and no rows")
    header = data.split(b"\n", 1)[0]
    try:
        header.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(_not_utf8(uri, "its header")) from None
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(text_columns, pa.string()))
    try:
        table = pacsv.read_csv(io.BytesIO(data), convert_options=convert)
    except UnicodeDecodeError:
        raise DataError(_not_utf8(uri, "its text")) from None
    if table.num_columns == 1:
        separator = _other_separator(table.column_names[0])
        if separator:
            raise DataError(
                f"{uri!r} has one column named {table.column_names[0][:60]!r}: the file looks "
                f"{separator}-separated; save it comma-separated"
            )
    binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
    if binary:
        raise DataError(_not_utf8(uri, f"column {binary[0]!r}"), field=binary[0])
    return table


def _not_utf8(uri: str, where: str) -> str:
    return (
        f"{uri!r} is not UTF-8 text ({where} is not): the file looks saved in another "
        "encoding such as Latin-1 or Windows-1258; save it as UTF-8"
    )


def _other_separator(header: str) -> str | None:
    names = {";": "';'", "\t": "tab", "|": "'|'"}
    counts = {sep: header.count(sep) for sep in names}
    best = max(counts, key=lambda sep: counts[sep])
    return names[best] if counts[best] else None


def _existing(uri: str | Path, settings: Settings | None) -> Location:
    loc = resolve(uri, settings)
    if not loc.exists():
        raise UserInputError(f"no file or folder at {loc.uri!r}")
    return loc
