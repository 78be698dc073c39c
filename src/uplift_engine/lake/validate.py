"""Validation of the raw datasets, with quarantine: every row is either valid or quarantined.

Invariant: a row of a raw dataset is *valid* when it breaks none of its dataset's rules; every
other row is written to ``LAKE/quarantine/<dataset>/part-NNNNN.parquet`` with a ``_reason``
column (``"field: problem"``, several joined by ``"; "``) — nothing is dropped silently, and
``valid + quarantined == raw`` rows for every dataset.

Rules are data (:mod:`.quality`: :class:`QualityRule`, :class:`Check`), evaluated as SQL in
DuckDB over the lake's PyArrow datasets (local or ``s3://``), in two phases:

1. *row rules* look at one row (missing id, unknown event type, negative amount, …) and the
   dataset's key (a repeated key keeps one row — the smallest by all columns — and quarantines
   the rest); rows that pass are the dataset's ``checked_<name>`` relation;
2. *reference rules* look at other datasets' checked rows (an assignment's customer must be a
   customer, its arm an arm of its campaign, and it needs an outcome; an outcome needs an
   assignment); rows that pass both are ``valid_<name>``.

Small datasets are materialised as DuckDB tables; ``events`` (tens of millions of rows) stays a
view over the scan, so memory does not grow with it. A raw column whose type cannot be cast to
the layout's type fails the whole dataset with a :class:`~uplift_engine.errors.DataError`
(that is a broken writer, not a bad row); naive timestamps are read as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.types as pat

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError, StorageError, UserInputError
from uplift_engine.lake.datasets import ROWS_PER_PART, arrow_reader, replace_dataset
from uplift_engine.lake.generations import Generation, drop_dataset, writing
from uplift_engine.lake.quality import (
    CHECKS,
    REASON,
    Check,
    reason_sql,
    sql_or,
    sql_quote,
)
from uplift_engine.lake.storage import resolve
from uplift_engine.lake.tables import dataset

if TYPE_CHECKING:  # DuckDB is imported when a session opens, not with the lake package
    import duckdb


@dataclass(frozen=True)
class Validation:
    """The outcome of validating one dataset: counts, reasons and the valid rows' relation."""

    name: str
    rows: int
    valid: int
    quarantined: int
    reasons: Mapping[str, int] = field(default_factory=dict)
    relation: str = ""
    quarantine_uri: str | None = None


class LakeValidator:
    """Validates a lake's raw datasets on one DuckDB connection; each dataset at most once.

    Relations it creates per dataset ``<n>``: ``rows_<n>`` (typed raw rows), ``keys_<n>``
    (*candidate* repeated keys, a superset of the real ones, usually empty), ``checked_<n>``
    (rows passing the row rules, one per key), ``reasons_<n>`` (every row that is bad or has a
    candidate key, with its ``_reason`` — null for the one kept of a repeated key) and
    ``valid_<n>``. ``events`` is scanned once for ``reasons_`` and then once by whoever reads
    ``valid_events``; a dataset with nothing to quarantine is read with no filter at all.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        lake_uri: str,
        settings: Settings | None = None,
        checks: Mapping[str, Check] = CHECKS,
        *,
        generation: Generation | None = None,
    ) -> None:
        self.con = con
        self.generation = generation
        """The lake generation that the quarantine datasets are written in (None: their own)."""
        self.lake_uri = lake_uri.rstrip("/")
        self.settings = settings
        self.checks = dict(checks)
        self._rows: dict[str, int] = {}
        self._candidates: dict[str, int] = {}
        self._done: dict[str, Validation] = {}

    def validate(self, name: str, *, write_quarantine: bool = True) -> Validation:
        """Validate dataset ``name``: create ``valid_<name>``, write its quarantine, count."""
        if name in self._done:
            return self._done[name]
        check = self._check_of(name)
        self.check(name)
        for rule in check.references:
            for other in rule.uses:
                self.check(other)
        self._run(f"CREATE TEMP TABLE reasons_{name} AS {self._reasons_sql(check)}")
        quarantined = self._count(f"reasons_{name} WHERE {REASON} IS NOT NULL")
        cols = _columns(check)
        if quarantined == 0:  # every row is valid: no filter to evaluate again
            self._run(f"CREATE TEMP VIEW valid_{name} AS SELECT {cols} FROM rows_{name}")
        else:
            bad = sql_or(r.condition for r in (*check.rules, *check.references))
            body = f"SELECT {cols} FROM rows_{name} t WHERE NOT ({bad})"
            if self._candidates[name]:
                body = (
                    f"SELECT {cols} FROM rows_{name} t ANTI JOIN keys_{name} "
                    f"USING ({_key(check)}) WHERE NOT ({bad}) UNION ALL "
                    f"SELECT {cols} FROM reasons_{name} WHERE {REASON} IS NULL"
                )
            kind = "TABLE" if check.materialize else "VIEW"
            self._run(f"CREATE TEMP {kind} valid_{name} AS {body}")
        reasons = dict(
            self._run(
                f"SELECT {REASON}, count(*) FROM reasons_{name} WHERE {REASON} IS NOT NULL "
                "GROUP BY 1 ORDER BY 2 DESC, 1"
            ).fetchall()
        )
        rows = self._rows[name]
        uri = self._write_quarantine(check, quarantined) if write_quarantine else None
        result = Validation(
            name, rows, rows - quarantined, quarantined, reasons, f"valid_{name}", uri
        )
        self._done[name] = result
        return result

    def check(self, name: str) -> None:
        """Phase 1 for dataset ``name``: register it, type it, find candidate keys, once."""
        if name in self._rows:
            return
        check = self._check_of(name)
        data = self._register(check)
        typed = ", ".join(
            f'CAST({_id(f.name) if f.name in data.schema.names else "NULL"} '
            f"AS {_sql_type(f.type)}) AS {_id(f.name)}"
            for f in check.schema
        )
        kind = "TABLE" if check.materialize else "VIEW"
        self._run(f"CREATE TEMP {kind} rows_{name} AS SELECT {typed} FROM raw_{name}")
        key = _key(check)
        found = None if check.materialize else _repeated_keys(data, check.key)
        if found is None:
            self._run(
                f"CREATE TEMP TABLE keys_{name} AS SELECT {key} FROM rows_{name} "
                f"GROUP BY {key} HAVING count(*) > 1"
            )
        else:
            self._run(f"CREATE TEMP TABLE keys_{name} AS SELECT {key} FROM rows_{name} LIMIT 0")
            if found.num_rows:
                self.con.register(f"found_{name}", found)
                self._run(f"INSERT INTO keys_{name} SELECT * FROM found_{name}")
                self.con.unregister(f"found_{name}")
        self._candidates[name] = self._count(f"keys_{name}")
        bad = sql_or(r.condition for r in check.rules)
        body = f"SELECT * FROM rows_{name} WHERE NOT ({bad})"
        if self._candidates[name]:
            cols = _columns(check)
            body = (
                f"SELECT * FROM rows_{name} ANTI JOIN keys_{name} USING ({key}) "
                f"WHERE NOT ({bad}) UNION ALL "
                f"SELECT {cols} FROM (SELECT *, row_number() OVER "
                f"(PARTITION BY {key} ORDER BY {cols}) AS _rank "
                f"FROM rows_{name} SEMI JOIN keys_{name} USING ({key}) WHERE NOT ({bad})) "
                f"WHERE _rank = 1"
            )
        self._run(f"CREATE TEMP VIEW checked_{name} AS {body}")

    def _check_of(self, name: str) -> Check:
        if name not in self.checks:
            raise UserInputError(
                f"unknown raw dataset {name!r}; expected one of "
                + ", ".join(repr(n) for n in self.checks)
            )
        return self.checks[name]

    def _register(self, check: Check) -> pads.Dataset:
        uri = f"{self.lake_uri}/{check.path}"
        if not resolve(uri, self.settings).exists():
            raise DataError(f"the lake at {self.lake_uri!r} has no {check.path} dataset")
        data = dataset(uri, self.settings, generation=self.generation)
        _check_schema(check, data.schema)
        if not check.materialize:
            data = _strings_as_dictionaries(data)
        self.con.register(f"raw_{check.name}", data)
        self._rows[check.name] = data.count_rows()
        return data

    def _reasons_sql(self, check: Check) -> str:
        """Rows that are bad or have a candidate key, with ``_reason`` (null: a kept repeat)."""
        name = check.name
        cols = _columns(check)
        key = _key(check)
        bad = sql_or(r.condition for r in check.rules)
        # a WHERE drops NULL as it drops FALSE, so this positive filter needs no coalesce
        # (which makes DuckDB's scan of 40M events a third cheaper)
        any_bad = " OR ".join(f"({r.condition})" for r in (*check.rules, *check.references))
        any_bad = any_bad or "false"
        reasons = [reason_sql(r) for r in check.rules]
        if self._candidates[name]:
            candidate = (
                f"EXISTS (SELECT 1 FROM keys_{name} k WHERE "
                + " AND ".join(f'k."{k}" = t."{k}"' for k in check.key)
                + ")"
            )
            suspects = (
                f"SELECT t.*, {candidate} AND NOT ({bad}) AS _ok FROM rows_{name} t "
                f"WHERE {any_bad} OR {candidate}"
            )
            ranked = (
                "SELECT *, CASE WHEN _ok THEN row_number() OVER "
                f"(PARTITION BY {key}, _ok ORDER BY {cols}) END AS _rank FROM suspects"
            )
            reasons.append(f"CASE WHEN _rank > 1 THEN '{sql_quote(check.duplicate.reason)}' END")
        else:
            suspects = f"SELECT * FROM rows_{name} t WHERE {any_bad}"
            ranked = "SELECT * FROM suspects"
        reasons.extend(reason_sql(r) for r in check.references)
        return (
            f"WITH suspects AS ({suspects}), ranked AS ({ranked}) "
            f"SELECT {cols}, nullif(concat_ws('; ', {', '.join(reasons)}), '') AS {REASON} "
            "FROM ranked t"
        )

    def _write_quarantine(self, check: Check, quarantined: int) -> str:
        uri = f"{self.lake_uri}/{check.quarantine_path}"
        with writing(
            self.lake_uri, self.settings, command="quarantine", within=self.generation
        ) as generation:
            if quarantined == 0:
                drop_dataset(uri, self.settings, within=generation)
                return uri
            relation = self.con.sql(
                f"SELECT * FROM reasons_{check.name} WHERE {REASON} IS NOT NULL ORDER BY ALL"
            )
            replace_dataset(
                uri,
                arrow_reader(relation, ROWS_PER_PART),
                self.settings,
                generation=generation,
            )
        return uri

    def _run(self, sql: str) -> duckdb.DuckDBPyConnection:
        import duckdb

        try:
            return self.con.execute(sql)
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            raise DataError(f"the lake at {self.lake_uri!r} cannot be validated: {exc}") from exc
        except duckdb.IOException as exc:
            raise StorageError(f"cannot read the lake at {self.lake_uri!r}: {exc}") from exc

    def _count(self, relation: str) -> int:
        return int(self._run(f"SELECT count(*) FROM {relation}").fetchall()[0][0])


def _columns(check: Check) -> str:
    return ", ".join(f'"{f.name}"' for f in check.schema)


def _id(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key(check: Check) -> str:
    return ", ".join(f'"{k}"' for k in check.key)


def _strings_as_dictionaries(data: pads.Dataset) -> pads.Dataset:
    """The same Parquet files, string columns read dictionary-encoded (far cheaper to scan)."""
    if not isinstance(data, pads.FileSystemDataset) or not isinstance(
        data.format, pads.ParquetFileFormat
    ):
        return data
    strings = [f.name for f in data.schema if pat.is_string(f.type) or pat.is_large_string(f.type)]
    if not strings:
        return data
    options = pads.ParquetReadOptions(dictionary_columns=strings)
    fmt = pads.ParquetFileFormat(read_options=options)
    return pads.dataset(data.files, filesystem=data.filesystem, format=fmt)


def _repeated_keys(data: pads.Dataset, key: tuple[str, ...]) -> pa.Table | None:
    """Keys that occur more than once in the raw files (any rows), or None to ask DuckDB.

    One pass over an integer key column: files whose keys increase strictly and whose ranges
    overlap no other file's cannot hold a repeat (the simulator writes event ids this way);
    the keys of the other files are sorted in NumPy and the repeats returned.
    """
    if len(key) != 1 or not pat.is_integer(data.schema.field(key[0]).type):
        return None
    name = key[0]
    fragments = list(data.get_fragments())

    def keys_of(index: int) -> np.ndarray:
        column = fragments[index].to_table(columns=[name]).column(name)
        return np.asarray(column.drop_null().to_numpy())

    files: list[tuple[int, int, bool, int]] = []  # (min, max, strictly increasing, fragment)
    for index in range(len(fragments)):
        array = keys_of(index)
        if array.size:
            increasing = array.size == 1 or bool(np.all(array[1:] > array[:-1]))
            files.append((int(array.min()), int(array.max()), increasing, index))
    files.sort()
    groups: list[list[tuple[int, int, bool, int]]] = []  # files whose ranges chain together
    reach = None
    for file in files:
        if reach is not None and file[0] <= reach:
            groups[-1].append(file)
            reach = max(reach, file[1])
        else:
            groups.append([file])
            reach = file[1]
    suspects = [f[3] for group in groups for f in group if len(group) > 1 or not f[2]]
    if not suspects:
        return pa.table({name: pa.array([], data.schema.field(name).type)})
    keys = np.sort(np.concatenate([keys_of(i) for i in suspects]))
    repeated = np.unique(keys[1:][keys[1:] == keys[:-1]])
    return pa.table({name: pa.array(repeated).cast(data.schema.field(name).type)})











_SQL_TYPES = {
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
}


def _sql_type(dtype: pa.DataType) -> str:
    if pat.is_timestamp(dtype):
        return "TIMESTAMPTZ"
    return _SQL_TYPES[dtype]


def _compatible(expected: pa.DataType, got: pa.DataType) -> bool:
    if pat.is_dictionary(got):
        got = got.value_type
    if pat.is_integer(expected):
        return pat.is_integer(got)
    if pat.is_floating(expected):
        return pat.is_integer(got) or pat.is_floating(got)
    if pat.is_string(expected):
        return pat.is_string(got) or pat.is_large_string(got)
    if pat.is_timestamp(expected):
        return pat.is_timestamp(got)
    return bool(expected.equals(got))


def _check_schema(check: Check, schema: pa.Schema) -> None:
    for expected in check.schema:
        if expected.name not in schema.names and expected.name in check.optional:
            continue
        if expected.name not in schema.names:
            raise DataError(
                f"{check.path} has no column {expected.name!r} (expected {expected.type}); "
                f"columns present: {', '.join(repr(n) for n in schema.names)}",
                field=expected.name,
            )
        got = schema.field(expected.name).type
        if not _compatible(expected.type, got):
            raise DataError(
                f"{check.path} column {expected.name!r} has type {got}; expected {expected.type}",
                field=expected.name,
            )
