"""Validation of the raw datasets, with quarantine: every row is either valid or quarantined.

Invariant: a row of a raw dataset is *valid* when it breaks none of its dataset's rules; every
other row is written to ``LAKE/quarantine/<dataset>/part-NNNNN.parquet`` with a ``_reason``
column (``"field: problem"``, several joined by ``"; "``) — nothing is dropped silently, and
``valid + quarantined == raw`` rows for every dataset.

Rules are data (:class:`Rule`, :class:`Check`), evaluated as SQL in DuckDB over the lake's
PyArrow datasets (local or ``s3://``), in two phases:

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

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.types as pat

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError, StorageError, UserInputError
from uplift_engine.lake import layout
from uplift_engine.lake.generations import Generation, drop_dataset, writing, writing_dataset
from uplift_engine.lake.storage import resolve
from uplift_engine.lake.tables import dataset, write_table
from uplift_engine.vocabulary import AMOUNT_TYPES, EVENT_TYPES

if TYPE_CHECKING:  # DuckDB is imported when a session opens, not with the lake package
    import duckdb


TS_MIN = "2000-01-01 00:00:00+00"
TS_MAX = "2100-01-01 00:00:00+00"
"""Timestamps outside ``[TS_MIN, TS_MAX)`` are quarantined as out of range."""

ROWS_PER_PART = 1_000_000
REASON = "_reason"
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """A problem a row can have: ``condition`` is SQL that is TRUE for a bad row.

    Row rules name the row's columns bare; reference rules name them ``t.<column>`` and read
    other datasets' checked rows as ``checked_<name>``, listing those names in ``uses``.
    """

    field: str
    problem: str
    condition: str
    uses: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """The text written to ``_reason``: ``"field: problem"``."""
        return f"{self.field}: {self.problem}"


@dataclass(frozen=True)
class Check:
    """How one raw dataset is validated: its place, schema, key and rules."""

    name: str
    path: str
    schema: pa.Schema
    key: tuple[str, ...]
    duplicate: Rule
    rules: tuple[Rule, ...]
    references: tuple[Rule, ...] = ()
    materialize: bool = True

    @property
    def quarantine_path(self) -> str:
        """Where this dataset's quarantined rows go, relative to the lake root."""
        return quarantine_path(self.name)


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


def quarantine_path(name: str) -> str:
    """Where the quarantined rows of dataset ``name`` live, relative to the lake root."""
    return f"{layout.QUARANTINE}/{name}"


def _missing(*columns: str) -> tuple[Rule, ...]:
    return tuple(Rule(c, "missing", f'"{c}" IS NULL') for c in columns)


def _in_range(column: str) -> Rule:
    return Rule(
        column,
        f"outside [{TS_MIN[:10]}, {TS_MAX[:10]})",
        f"\"{column}\" < TIMESTAMPTZ '{TS_MIN}' OR \"{column}\" >= TIMESTAMPTZ '{TS_MAX}'",
    )


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


_AMOUNT_TYPES_SQL = _sql_list(AMOUNT_TYPES)

CHECKS: dict[str, Check] = {
    "customers": Check(
        name="customers",
        path=layout.CUSTOMERS,
        schema=layout.CUSTOMERS_SCHEMA,
        key=("customer_id",),
        duplicate=Rule("customer_id", "duplicate customer (one row kept)", ""),
        rules=(
            *_missing("customer_id"),
            Rule("age", "outside [0, 130]", "age < 0 OR age > 130"),
            Rule(
                "income_m_vnd",
                "negative or not finite",
                "NOT isfinite(income_m_vnd) OR income_m_vnd < 0",
            ),
            Rule("tenure_months", "negative", "tenure_months < 0"),
            Rule("products_held", "negative", "products_held < 0"),
            Rule("balance_m_vnd", "not finite", "NOT isfinite(balance_m_vnd)"),
        ),
    ),
    "campaigns": Check(
        name="campaigns",
        path=layout.CAMPAIGNS,
        schema=layout.CAMPAIGNS_SCHEMA,
        key=("campaign_id", "arm"),
        duplicate=Rule("arm", "arm listed twice for the campaign (one row kept)", ""),
        rules=(
            *_missing("campaign_id", "arm", "is_control", "share"),
            Rule("share", "outside (0, 1]", "share <= 0 OR share > 1 OR isnan(share)"),
        ),
    ),
    "campaign_assignments": Check(
        name="campaign_assignments",
        path=layout.ASSIGNMENTS,
        schema=layout.ASSIGNMENTS_SCHEMA,
        key=("campaign_id", "customer_id"),
        duplicate=Rule("customer_id", "assigned more than once in the campaign (one kept)", ""),
        rules=(
            *_missing("campaign_id", "customer_id", "assigned_at", "arm"),
            _in_range("assigned_at"),
        ),
        references=(
            Rule(
                "customer_id",
                f"not a customer in {layout.CUSTOMERS}",
                "NOT EXISTS (SELECT 1 FROM checked_customers r"
                " WHERE r.customer_id = t.customer_id)",
                uses=("customers",),
            ),
            Rule(
                "campaign_id",
                f"not a campaign in {layout.CAMPAIGNS}",
                "NOT EXISTS (SELECT 1 FROM checked_campaigns r"
                " WHERE r.campaign_id = t.campaign_id)",
                uses=("campaigns",),
            ),
            Rule(
                "arm",
                f"not an arm of the campaign in {layout.CAMPAIGNS}",
                "EXISTS (SELECT 1 FROM checked_campaigns r WHERE r.campaign_id = t.campaign_id)"
                " AND NOT EXISTS (SELECT 1 FROM checked_campaigns r"
                " WHERE r.campaign_id = t.campaign_id AND r.arm = t.arm)",
                uses=("campaigns",),
            ),
            Rule(
                "customer_id",
                f"no outcome in {layout.OUTCOMES}",
                "NOT EXISTS (SELECT 1 FROM checked_campaign_outcomes r"
                " WHERE r.campaign_id = t.campaign_id AND r.customer_id = t.customer_id)",
                uses=("campaign_outcomes",),
            ),
        ),
    ),
    "campaign_outcomes": Check(
        name="campaign_outcomes",
        path=layout.OUTCOMES,
        schema=layout.OUTCOMES_SCHEMA,
        key=("campaign_id", "customer_id"),
        duplicate=Rule("customer_id", "more than one outcome in the campaign (one kept)", ""),
        rules=(
            *_missing("campaign_id", "customer_id", "converted"),
            Rule("converted", "not 0 or 1", "converted NOT IN (0, 1)"),
            Rule("revenue", "missing for a converter", "converted = 1 AND revenue IS NULL"),
            Rule("revenue", "negative or not finite", "revenue < 0 OR NOT isfinite(revenue)"),
            Rule("revenue", "positive for a non-converter", "converted = 0 AND revenue > 0"),
        ),
        references=(
            Rule(
                "customer_id",
                f"no assignment in {layout.ASSIGNMENTS}",
                "NOT EXISTS (SELECT 1 FROM checked_campaign_assignments r"
                " WHERE r.campaign_id = t.campaign_id AND r.customer_id = t.customer_id)",
                uses=("campaign_assignments",),
            ),
        ),
    ),
    "events": Check(
        name="events",
        path=layout.EVENTS,
        schema=layout.EVENTS_SCHEMA,
        key=("event_id",),
        duplicate=Rule("event_id", "duplicate event (one row kept)", ""),
        rules=(
            *_missing("event_id", "customer_id", "type", "ts"),
            Rule("type", "unknown event type", f"type NOT IN ({_sql_list(EVENT_TYPES)})"),
            _in_range("ts"),
            Rule(
                "amount",
                "missing for its type",
                f"type IN ({_AMOUNT_TYPES_SQL}) AND amount IS NULL",
            ),
            Rule("amount", "negative", "amount < 0"),
            Rule("amount", "not finite", f"type IN ({_AMOUNT_TYPES_SQL}) AND NOT isfinite(amount)"),
        ),
        materialize=False,
    ),
}
"""The lake's raw datasets and their rules, in the order they are best checked."""


@contextlib.contextmanager
def duckdb_session(
    threads: int = 2, memory_limit: str = "4GB"
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB session in UTC with bounded threads and memory (spilling to disk)."""
    import duckdb

    if threads < 1:
        raise UserInputError(f"threads must be at least 1, got {threads}", field="threads")
    if not _MEMORY.match(memory_limit):
        raise UserInputError(
            f"memory_limit must look like '4GB' or '512MB', got {memory_limit!r}",
            field="memory_limit",
        )
    spill = tempfile.mkdtemp(prefix="uplift-duckdb-")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET threads = {int(threads)}")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        with contextlib.suppress(duckdb.Error):  # an optimizer of DuckDB ≥ 1.1
            # Queries here put the small side of a join on the right, where DuckDB builds its
            # hash table; unable to size Arrow scans, this optimizer would put 40M events there.
            con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        con.execute(f"SET temp_directory = '{_q(spill)}'")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


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
            bad = _sql_or(r.condition for r in (*check.rules, *check.references))
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
            f'CAST("{f.name}" AS {_sql_type(f.type)}) AS "{f.name}"' for f in check.schema
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
        bad = _sql_or(r.condition for r in check.rules)
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
        bad = _sql_or(r.condition for r in check.rules)
        # a WHERE drops NULL as it drops FALSE, so this positive filter needs no coalesce
        # (which makes DuckDB's scan of 40M events a third cheaper)
        any_bad = " OR ".join(f"({r.condition})" for r in (*check.rules, *check.references))
        any_bad = any_bad or "false"
        reasons = [_reason_sql(r) for r in check.rules]
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
            reasons.append(f"CASE WHEN _rank > 1 THEN '{_q(check.duplicate.reason)}' END")
        else:
            suspects = f"SELECT * FROM rows_{name} t WHERE {any_bad}"
            ranked = "SELECT * FROM suspects"
        reasons.extend(_reason_sql(r) for r in check.references)
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


def _key(check: Check) -> str:
    return ", ".join(f'"{k}"' for k in check.key)


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


def _reason_sql(rule: Rule) -> str:
    return f"CASE WHEN coalesce({rule.condition}, false) THEN '{_q(rule.reason)}' END"


def _q(text: str) -> str:
    return text.replace("'", "''")


def _sql_or(conditions: Iterable[str]) -> str:
    parts = [f"coalesce({c}, false)" for c in conditions if c]
    return " OR ".join(parts) if parts else "false"


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


__all__ = [
    "AMOUNT_TYPES",
    "CHECKS",
    "Check",
    "LakeValidator",
    "Rule",
    "Validation",
    "arrow_reader",
    "duckdb_session",
    "quarantine_path",
    "replace_dataset",
]
