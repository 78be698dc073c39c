"""Scores files: a table of the scores contract with its :class:`ScoresMeta`, read and written.

The metadata travels with the table (Parquet schema metadata, or the CSV's sidecar, through
:func:`uplift_engine.lake.write_table`). A scores file without metadata (made elsewhere) is
still read: the id is its first column, the arms come from the ``pred_`` columns and the control
is the one arm without an ``uplift_`` column.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError
from uplift_engine.lake import read_table_and_meta, write_table
from uplift_engine.learn.scores import INTERVAL_LEVEL, ScoresMeta, pred_column, uplift_column


def write_scores(
    table: pa.Table, meta: ScoresMeta, uri: str | Path, settings: Settings | None = None
) -> None:
    """Write a scores table with its metadata (Parquet schema metadata, or a CSV sidecar)."""
    write_table(table, uri, settings, meta=meta.to_json().encode())


def read_scores(uri: str | Path, settings: Settings | None = None) -> tuple[pa.Table, ScoresMeta]:
    """Read a scores file and its metadata (inferred from the columns when there is none)."""
    table, raw = read_table_and_meta(
        uri, settings, text_columns_from=lambda m: (ScoresMeta.from_json(m).id_column,)
    )
    meta = ScoresMeta.from_json(raw) if raw is not None else _infer_meta(table, str(uri))
    missing = [pred_column(a) for a in meta.arms if pred_column(a) not in table.column_names]
    missing += [uplift_column(o) for o in meta.offers if uplift_column(o) not in table.column_names]
    if meta.id_column not in table.column_names:
        missing.insert(0, meta.id_column)
    if missing:
        raise DataError(
            f"scores file {str(uri)!r} lacks column(s) {', '.join(map(repr, missing))} "
            "of the scores contract",
            field=missing[0],
        )
    return table, meta


def _infer_meta(table: pa.Table, uri: str) -> ScoresMeta:
    names = table.column_names
    arms = [c[len("pred_") :] for c in names if c.startswith("pred_")]
    controls = [a for a in arms if uplift_column(a) not in names]
    if not names or len(arms) < 2 or len(controls) != 1:
        raise DataError(
            f"{uri!r} is not a scores file: expected an id column, pred_<arm> for every arm and "
            f"uplift_<offer> for every arm but control; got columns {', '.join(names[:20])}"
        )
    level = INTERVAL_LEVEL if any(c.endswith("_lower") for c in names) else None
    return ScoresMeta(
        id_column=names[0],
        arms=arms,
        control=controls[0],
        interval_level=level,
        interval_kind="unknown" if level else None,
    )
