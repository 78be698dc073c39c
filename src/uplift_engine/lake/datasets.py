"""Writing a dataset: Arrow batches cut into parts of a fixed size, committed as one generation.

Parts hold ``rows_per_part`` rows each (the last one fewer), whatever the batch sizes, and are
named ``part-NNNNN.<tag>.parquet`` (see :mod:`.generations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import pyarrow as pa

from uplift_engine.config.settings import Settings
from uplift_engine.errors import StorageError
from uplift_engine.lake import layout
from uplift_engine.lake.generations import Generation, writing_dataset
from uplift_engine.lake.tables import write_table

if TYPE_CHECKING:
    import duckdb

ROWS_PER_PART = 1_000_000


def replace_dataset(
    uri: str,
    batches: Iterable[pa.RecordBatch],
    settings: Settings | None = None,
    *,
    generation: Generation | None = None,
    rows_per_part: int = ROWS_PER_PART,
    extra_files: Mapping[str, bytes] | None = None,
) -> list[str]:
    """Replace the Parquet dataset folder at ``uri`` with the batches, in one generation.

    Parts hold ``rows_per_part`` rows each (the last one fewer), whatever the batch sizes;
    ``extra_files`` (e.g. a manifest) follow the parts. The files become what readers see when
    ``generation`` commits (or at once, in a generation of their own, without one; see
    :mod:`.generations`). Returns the parts' file names.
    """
    names: list[str] = []
    try:
        with writing_dataset(uri, settings, command="replace", within=generation) as (gen, folder):
            for index, part in enumerate(_parts(batches, rows_per_part)):
                name = gen.name(layout.part_name(index))
                write_table(part, folder.child(name).uri, settings)
                names.append(name)
            for name, data in (extra_files or {}).items():
                folder.child(gen.name(name)).write_bytes(data)
    except OSError as exc:
        raise StorageError(f"cannot write {uri!r}: {exc}") from exc
    return names


def _parts(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows).combine_chunks()
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).combine_chunks()


def arrow_reader(relation: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    """A DuckDB relation's rows as Arrow batches of about ``rows`` rows (DuckDB 1.x and 2.x)."""
    method = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return method(rows)
