"""The scores contract (docs/design.md), written by ``uplift score`` and read by decide and report.

Columns: the id (under its own name, values as given); ``pred_<arm>`` for every arm, control
included; ``uplift_<offer>`` = ``pred_<offer>`` − ``pred_<control>``; optionally
``uplift_<offer>_lower`` / ``_upper`` (a 90% interval); then any kept columns.

Arm labels appear verbatim in column names; integral numbers lose their ``.0`` (arm ``1.0`` is
``pred_1``). The file's metadata (:class:`ScoresMeta`) travels with it: in the Parquet schema
metadata under the key ``uplift``, and for CSV in a sidecar ``<file>.meta.json``. A scores file
without metadata (made elsewhere) is still read: the id is its first column, the arms come from
the ``pred_`` columns and the control is the one arm without an ``uplift_`` column.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from uplift_engine.config import Settings
from uplift_engine.errors import DataError
from uplift_engine.lake import read_table_and_meta, write_table

SCORES_SCHEMA_VERSION = "uplift.scores/1"
INTERVAL_LEVEL = 0.9


def arm_name(label: object) -> str:
    """An arm label as it appears in column names: verbatim, integral numbers without ``.0``."""
    if isinstance(label, bool):
        return str(label)
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def pred_column(arm: str) -> str:
    """The column of the expected outcome under ``arm``."""
    return f"pred_{arm}"


def uplift_column(offer: str, bound: str | None = None) -> str:
    """The column of the effect of ``offer`` (``bound`` = ``"lower"`` or ``"upper"``)."""
    return f"uplift_{offer}" + (f"_{bound}" if bound else "")


@dataclass(frozen=True)
class ScoresMeta:
    """What a scores file says about itself."""

    id_column: str
    arms: list[str]
    control: str
    outcome: str | None = None
    outcome_kind: str | None = None  # "binary" or "continuous"
    interval_level: float | None = None  # 0.9 when uplift_<offer>_lower/_upper are present
    interval_kind: str | None = None  # "confidence" (valid inference) or "approximate" (bootstrap)
    model: dict[str, object] = field(default_factory=dict)
    schema_version: str = SCORES_SCHEMA_VERSION

    @property
    def offers(self) -> list[str]:
        """The arms other than control, in order."""
        return [a for a in self.arms if a != self.control]

    def to_json(self) -> str:
        """The metadata as JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ScoresMeta:
        """Parse :meth:`to_json` output."""
        data = json.loads(text)
        return cls(**data)


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
