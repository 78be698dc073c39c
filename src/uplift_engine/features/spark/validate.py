"""A raw dataset's row rules evaluated by Spark, with the verdicts of the lake's validator.

Invariant: for a dataset whose :class:`~uplift_engine.lake.validate.Check` has no reference
rules (the event datasets), a row is valid here exactly when
:class:`~uplift_engine.lake.validate.LakeValidator` finds it valid: it breaks none of the row
rules — the same SQL conditions, translated from DuckDB's dialect by :func:`spark_condition`
— and, when its key repeats, it is the smallest of the key's good rows by all columns (nulls
last). Every other row goes to the same quarantine dataset with the same ``_reason``, in the
same order. The quarantine is collected on the driver to be written (bad rows are few; a feed
whose rows are mostly bad is a broken writer and is better stopped at the source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.types as pat

from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError, DataError
from uplift_engine.features.spark.session import spark_path
from uplift_engine.lake.datasets import replace_dataset
from uplift_engine.lake.generations import Generation, dataset_files, drop_dataset
from uplift_engine.lake.quality import REASON, Check
from uplift_engine.lake.storage import resolve

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
_ISFINITE = re.compile(r"\bisfinite\(([^()]*)\)")
_TIMESTAMPTZ = re.compile(r"\bTIMESTAMPTZ '")
_RANK = "__rank"


@dataclass(frozen=True)
class SparkValidation:
    """One dataset validated in Spark: its valid rows (lazy) and its quarantine count."""

    name: str
    valid: DataFrame
    quarantined: int
    quarantine_uri: str
    cached: tuple[DataFrame, ...] = ()


def spark_condition(condition: str) -> str:
    """A rule's DuckDB SQL condition in Spark SQL (identifiers, ``TIMESTAMPTZ``, ``isfinite``).

    NULL handling is kept: ``isfinite(NULL)`` stays NULL, which the caller treats as false.
    """
    text = _QUOTED.sub(lambda m: "`" + m.group(1).replace('""', '"') + "`", condition)
    text = _TIMESTAMPTZ.sub("TIMESTAMP '", text)
    return _ISFINITE.sub(
        lambda m: f"(NOT isnan({m.group(1)}) AND abs({m.group(1)}) != CAST('inf' AS DOUBLE))",
        text,
    )


def read_dataset(
    spark: SparkSession,
    lake_uri: str,
    check: Check,
    settings: Settings | None = None,
    *,
    generation: Generation | None = None,
) -> DataFrame:
    """The raw dataset of ``check`` typed to its layout schema (refusing a broken writer)."""
    from pyspark.sql import functions as F

    uri = f"{lake_uri.rstrip('/')}/{check.path}"
    folder = resolve(uri, settings)
    files = dataset_files(folder, generation=generation) if folder.is_dir() else []
    if not files:
        raise DataError(f"the lake at {lake_uri!r} has no {check.path} dataset")
    raw = spark.read.parquet(*(spark_path(f.uri) for f in files))
    fields = {f.name: f.dataType.typeName() for f in raw.schema.fields}
    columns = []
    for expected in check.schema:
        got = fields.get(expected.name)
        if got is None and expected.name in check.optional:
            columns.append(F.lit(None).cast(_spark_type(expected.type)).alias(expected.name))
            continue
        if got is None:
            raise DataError(
                f"{check.path} has no column {expected.name!r} (expected {expected.type}); "
                f"columns present: {', '.join(repr(n) for n in fields)}",
                field=expected.name,
            )
        if got not in _ACCEPTED[_kind(expected.type)]:
            raise DataError(
                f"{check.path} column {expected.name!r} has Spark type {got}; "
                f"expected {expected.type}",
                field=expected.name,
            )
        columns.append(F.col(expected.name).cast(_spark_type(expected.type)).alias(expected.name))
    return raw.select(*columns)


def validate_frame(
    check: Check, typed: DataFrame
) -> tuple[DataFrame, DataFrame, tuple[DataFrame, ...]]:
    """The valid rows and the quarantined rows (with ``_reason``) of a typed dataset, lazily.

    The third item: frames cached for the plan (the repeated keys), to unpersist when done.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    if check.references:
        raise ConfigError(
            f"dataset {check.name!r} has reference rules, which the Spark engine does not "
            "evaluate; validate it in DuckDB",
            field="engine",
        )
    columns = [f.name for f in check.schema]
    key = list(check.key)
    broken = [F.coalesce(F.expr(spark_condition(r.condition)), F.lit(False)) for r in check.rules]
    bad = reduce(lambda a, b: a | b, broken, F.lit(False))
    reason = F.concat_ws(
        "; ", *(F.when(c, F.lit(r.reason)) for c, r in zip(broken, check.rules, strict=True))
    )
    bad_rows = typed.where(bad).select(*columns, reason.alias(REASON))
    not_null = reduce(lambda a, b: a & b, (F.col(k).isNotNull() for k in key))
    keys = typed.where(not_null).groupBy(*key).count().where(F.col("count") > 1).select(*key)
    keys = keys.cache()
    if keys.isEmpty():
        keys.unpersist()
        return typed.where(~bad), bad_rows, ()
    order = [F.col(c).asc_nulls_last() for c in columns]
    ranked = (
        typed.join(keys, key, "left_semi")
        .where(~bad)
        .withColumn(_RANK, F.row_number().over(Window.partitionBy(*key).orderBy(*order)))
    )
    valid = (
        typed.join(keys, key, "left_anti")
        .where(~bad)
        .unionByName(ranked.where(F.col(_RANK) == 1).select(*columns))
    )
    repeats = ranked.where(F.col(_RANK) > 1).select(
        *columns, F.lit(check.duplicate.reason).alias(REASON)
    )
    return valid, bad_rows.unionByName(repeats), (keys,)


def validate_dataset(
    spark: SparkSession,
    lake_uri: str,
    check: Check,
    settings: Settings | None = None,
    *,
    generation: Generation | None = None,
) -> SparkValidation:
    """Validate one raw dataset in Spark and replace its quarantine dataset in the lake."""
    valid, quarantine, cached = validate_frame(
        check, read_dataset(spark, lake_uri, check, settings, generation=generation)
    )
    uri = f"{lake_uri.rstrip('/')}/{check.quarantine_path}"
    table = quarantine.toArrow()  # sorted like DuckDB's ORDER BY ALL: NaN high, nulls last
    order = [(name, "ascending") for name in table.column_names]
    table = table.sort_by(order)  # Arrow puts nulls last by default
    if table.num_rows == 0:
        drop_dataset(uri, settings, within=generation)
    else:
        schema = pa.schema([*check.schema, pa.field(REASON, pa.string())])
        replace_dataset(uri, table.cast(schema).to_batches(), settings, generation=generation)
    return SparkValidation(check.name, valid, table.num_rows, uri, cached)


def _kind(dtype: pa.DataType) -> str:
    if pat.is_integer(dtype):
        return "integer"
    if pat.is_floating(dtype):
        return "floating"
    if pat.is_timestamp(dtype):
        return "timestamp"
    if pat.is_boolean(dtype):
        return "boolean"
    return "string"


_INTEGERS = {"byte", "short", "integer", "long"}
_ACCEPTED = {
    "integer": _INTEGERS,
    "floating": _INTEGERS | {"float", "double"},
    "timestamp": {"timestamp", "timestamp_ntz"},
    "boolean": {"boolean"},
    "string": {"string"},
}
_SPARK_TYPES = {
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.float32(): "float",
    pa.float64(): "double",
    pa.bool_(): "boolean",
    pa.string(): "string",
}


def _spark_type(dtype: pa.DataType) -> str:
    return "timestamp" if pat.is_timestamp(dtype) else _SPARK_TYPES[dtype]
