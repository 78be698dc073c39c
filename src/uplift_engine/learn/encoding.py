"""Features to a float matrix, the same way at training and at scoring time.

Invariant: ``transform`` returns a C-contiguous float64 array (n_rows, n_features) in the order
of ``specs``; missing values are NaN; a categorical value is its level's index (levels ordered
by training frequency, at most ``MAX_LEVELS``), and a value never seen in training (or rarer
than the kept levels) is NaN, so it scores as missing instead of failing. Booleans are 0/1.

This module is on the request corridor: it needs NumPy only. Arrow columns are handled when
given (imported lazily); plain lists and NumPy arrays work without PyArrow. The encoder is
learnt from a table by :func:`uplift_engine.learn.data.fit_encoder`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from uplift_engine.errors import DataError

MAX_LEVELS = 200
Kind = Literal["numeric", "boolean", "categorical"]


@dataclass(frozen=True)
class EncodedFeature:
    """One feature: its column name, kind and (for categoricals) its levels."""

    name: str
    kind: Kind
    levels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The spec as it is written in a bundle's manifest."""
        out: dict[str, Any] = {"name": self.name, "type": self.kind}
        if self.kind == "categorical":
            out["levels"] = list(self.levels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncodedFeature:
        """Parse :meth:`to_dict` output."""
        return cls(str(data["name"]), data["type"], tuple(data.get("levels", ())))


class FeatureEncoder:
    """Encode named columns into the model's float matrix."""

    def __init__(self, specs: Sequence[EncodedFeature]) -> None:
        self.specs = tuple(specs)
        self._lookup = {
            s.name: {level: float(i) for i, level in enumerate(s.levels)}
            for s in self.specs
            if s.kind == "categorical"
        }
        self._row_plan = [(s.name, self._lookup.get(s.name)) for s in self.specs]

    @property
    def names(self) -> list[str]:
        """Feature names in matrix column order."""
        return [s.name for s in self.specs]

    @property
    def categorical_indices(self) -> list[int]:
        """Matrix columns that hold categorical codes."""
        return [i for i, s in enumerate(self.specs) if s.kind == "categorical"]

    def transform(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Encode ``columns`` (Arrow arrays, NumPy arrays or lists, by feature name)."""
        missing = [s.name for s in self.specs if s.name not in columns]
        if missing:
            raise DataError(
                f"missing feature column(s) {', '.join(map(repr, missing))} that the model "
                "was trained with",
                field=missing[0],
            )
        parts = [self._encode_one(spec, columns[spec.name]) for spec in self.specs]
        lengths = {len(p) for p in parts}
        if len(lengths) > 1:
            raise DataError(f"feature columns have different lengths: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        out = np.empty((n, len(parts)), dtype=np.float64)
        for j, part in enumerate(parts):
            out[:, j] = part
        return out

    def transform_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode a few rows given as mappings (the serving path), as :meth:`transform` would.

        One pass of plain Python over the values, where :meth:`transform` makes an array per
        feature: for the handful of rows of a decision it is several times faster, and it gives
        the same bits (``float`` of a number is NumPy's; a test compares the two).
        """
        nan = math.nan
        flat: list[float] = []
        append = flat.append
        for row in rows:
            for name, lookup in self._row_plan:
                try:
                    value = row[name]
                except KeyError:
                    raise DataError(
                        f"missing feature column {name!r} that the model was trained with",
                        field=name,
                    ) from None
                if value is None:
                    append(nan)
                elif lookup is not None:
                    append(lookup.get(str(value), nan))
                else:
                    try:
                        append(float(value))
                    except (TypeError, ValueError) as exc:
                        raise DataError(
                            f"feature {name!r} must be numeric: {exc}", field=name
                        ) from None
        return np.array(flat, dtype=np.float64).reshape(len(rows), len(self._row_plan))

    def _encode_one(self, spec: EncodedFeature, values: Any) -> np.ndarray:
        if spec.kind == "categorical":
            return self._encode_categorical(spec, values)
        if _is_arrow(values):
            import pyarrow as pa
            import pyarrow.compute as pc

            if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
                raise DataError(
                    f"feature {spec.name!r} must be numeric but holds text", field=spec.name
                )
            return np.asarray(
                pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"feature {spec.name!r} must be numeric: {exc}", field=spec.name
            ) from exc
        return array.reshape(-1)

    def _encode_categorical(self, spec: EncodedFeature, values: Any) -> np.ndarray:
        if _is_arrow(values):
            import pyarrow as pa
            import pyarrow.compute as pc

            text = pc.cast(values, pa.string())
            codes = pc.index_in(text, value_set=pa.array(spec.levels, type=pa.string()))
            return np.asarray(
                pc.cast(codes, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
        lookup = self._lookup[spec.name]
        nan = float("nan")
        return np.fromiter(
            (nan if v is None else lookup.get(str(v), nan) for v in values),
            dtype=np.float64,
        )

    def to_manifest(self) -> list[dict[str, Any]]:
        """The feature list as written in a bundle's manifest."""
        return [s.to_dict() for s in self.specs]

    @classmethod
    def from_manifest(cls, items: Sequence[Mapping[str, Any]]) -> FeatureEncoder:
        """Rebuild the encoder from a manifest's feature list."""
        return cls([EncodedFeature.from_dict(item) for item in items])


def _is_arrow(values: Any) -> bool:
    return hasattr(values, "type") and hasattr(values, "to_numpy") and hasattr(values, "null_count")
