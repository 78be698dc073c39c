"""Learning a :class:`~uplift_engine.learn.encoding.FeatureEncoder` from an Arrow table.

Each column's kind comes from its Arrow type (booleans, numbers, text as categorical); a
categorical keeps its levels by training frequency, at most ``MAX_LEVELS``; a column with no
value at all (a CSV reader types it ``null``: e.g. a window no customer of a small pilot had an
event in) is numeric with every value missing; any other type cannot be a feature and is
refused with the column named.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.errors import DataError
from uplift_engine.learn.encoding import MAX_LEVELS, EncodedFeature, FeatureEncoder


def fit_encoder(table: pa.Table, features: Sequence[str]) -> FeatureEncoder:
    """Learn each feature's kind (and levels) from an Arrow table."""
    specs = []
    for name in features:
        column = table.column(name)
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = pc.cast(column, pa.string())
            kind = column.type
        if pa.types.is_boolean(kind):
            specs.append(EncodedFeature(name, "boolean"))
        elif (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_decimal(kind)
            or pa.types.is_null(kind)
        ):
            specs.append(EncodedFeature(name, "numeric"))
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            counts = pc.value_counts(column.drop_null())
            pairs = sorted(
                zip(
                    counts.field("values").to_pylist(),
                    counts.field("counts").to_pylist(),
                    strict=True,
                ),
                key=lambda p: (-p[1], p[0]),
            )
            levels = tuple(str(v) for v, _ in pairs[:MAX_LEVELS])
            specs.append(EncodedFeature(name, "categorical", levels))
        else:
            raise DataError(
                f"feature column {name!r} has type {kind} that cannot be a feature; "
                "leave it out with --exclude",
                field=name,
            )
    return FeatureEncoder(specs)
