"""A campaign table turned into what learners take: X, arm codes, outcome, propensity, ids.

Invariant: rows keep the table's order; ``ids`` are the id column's values as given (or the
row numbers, 0-based, when the table has no id column); ``X`` comes from the encoder that
the bundle stores, so scoring encodes exactly as training did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.errors import DataError
from uplift_engine.learn.data.arms import ArmSet, discover_arms
from uplift_engine.learn.data.encoder import fit_encoder
from uplift_engine.learn.data.roles import ColumnRoles, table_ids
from uplift_engine.learn.encoding import FeatureEncoder
from uplift_engine.limits import MAX_AMOUNT


@dataclass(frozen=True)
class CampaignData:
    """A campaign table, encoded."""

    X: np.ndarray
    treatment: np.ndarray
    y: np.ndarray
    propensity: np.ndarray | None
    ids: pa.ChunkedArray | pa.Array
    arms: ArmSet
    encoder: FeatureEncoder
    roles: ColumnRoles
    outcome_kind: str

    def subset(self, rows: np.ndarray) -> CampaignData:
        """The same data restricted to ``rows``."""
        return CampaignData(
            X=self.X[rows],
            treatment=self.treatment[rows],
            y=self.y[rows],
            propensity=None if self.propensity is None else self.propensity[rows],
            ids=self.ids.take(pa.array(rows)),
            arms=self.arms,
            encoder=self.encoder,
            roles=self.roles,
            outcome_kind=self.outcome_kind,
        )

    def propensity_matrix(self) -> np.ndarray | None:
        """(n, K + 1) assignment probabilities from the per-row ``--propensity`` column.

        The given probability goes to the arm the row received; the rest is spread over the
        other arms in proportion to their shares of the table. Only the received arm's column
        enters inverse-propensity weights, so the spread is a completion, not an estimate.
        """
        if self.propensity is None:
            return None
        return propensity_matrix(self.treatment, self.propensity, len(self.arms.names))

    def fingerprint(self) -> dict[str, object]:
        """Rows, arms and a SHA-256 over the encoded training data."""
        digest = hashlib.sha256()
        for array in (self.X, self.treatment, self.y):
            digest.update(np.ascontiguousarray(array).tobytes())
        counts = np.bincount(self.treatment, minlength=len(self.arms.names))
        return {
            "rows": len(self.y),
            "rows_per_arm": dict(zip(self.arms.names, map(int, counts), strict=True)),
            "sha256": digest.hexdigest(),
        }


def encode_campaign(
    table: pa.Table,
    roles: ColumnRoles,
    control: str,
    arm_map: Mapping[str, str] | None = None,
) -> CampaignData:
    """Encode a campaign table for training (``arm_map``: labels read as other labels)."""
    arms = discover_arms(table.column(roles.treatment), roles.treatment, control, arm_map)
    treatment = arms.encode(table.column(roles.treatment))
    y = outcome_values(table.column(roles.outcome), roles.outcome)
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    propensity = None
    if roles.propensity is not None:
        propensity = outcome_values(table.column(roles.propensity), roles.propensity)
        bad = ~((propensity > 0) & (propensity <= 1))
        if bad.any():
            raise DataError(
                f"the propensity column {roles.propensity!r} must hold probabilities in (0, 1]; "
                f"{int(bad.sum())} row(s) do not (first: row {int(np.argmax(bad))})",
                field="propensity",
            )
    encoder = fit_encoder(table, roles.features)
    X = encoder.transform({name: table.column(name) for name in roles.features})
    ids = table_ids(table, roles.id_column)
    if roles.id_in_table and ids.null_count:
        raise DataError(f"id column {roles.id_column!r} has missing values", field=roles.id_column)
    return CampaignData(
        X=X,
        treatment=treatment,
        y=y,
        propensity=propensity,
        ids=ids,
        arms=arms,
        encoder=encoder,
        roles=roles,
        outcome_kind="binary" if binary else "continuous",
    )


def propensity_matrix(treatment: np.ndarray, received: np.ndarray, n_arms: int) -> np.ndarray:
    """Complete per-row received-arm probabilities into rows over all arms that sum to 1."""
    n = len(treatment)
    shares = np.bincount(treatment, minlength=n_arms) / max(n, 1)
    others = np.broadcast_to(shares, (n, n_arms)).copy()
    others[np.arange(n), treatment] = 0.0
    total = others.sum(axis=1, keepdims=True)
    rest = np.divide(others, total, out=np.zeros_like(others), where=total > 0)
    matrix = rest * (1.0 - received)[:, None]
    matrix[np.arange(n), treatment] = received
    return matrix


def outcome_values(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """A numeric column as float64, refusing text, booleans aside, and missing values."""
    kind = column.type
    if pa.types.is_boolean(kind):
        column = pc.cast(column, pa.int8())
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise DataError(
            f"column {name!r} must be numeric (0/1 for a conversion, an amount for revenue); "
            f"it has type {kind}",
            field=name,
        )
    if column.null_count:
        raise DataError(f"column {name!r} has {column.null_count} missing value(s)", field=name)
    values = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
    if not np.isfinite(values).all():
        raise DataError(
            f"column {name!r} has {int((~np.isfinite(values)).sum())} infinite or NaN value(s)",
            field=name,
        )
    wild = np.abs(values) > MAX_AMOUNT
    if wild.any():
        raise DataError(
            f"column {name!r} has {int(wild.sum())} value(s) beyond ±{MAX_AMOUNT:.0e} "
            f"(first: {values[np.argmax(wild)]:.3g}): check the unit",
            field=name,
        )
    return values


def holdout_split(treatment: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out row indices, stratified by arm, seeded."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for arm in np.unique(treatment):
        rows = rng.permutation(np.flatnonzero(treatment == arm))
        cut = round(len(rows) * share)
        held.append(rows[:cut])
        train.append(rows[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def stratified_folds(treatment: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number (0..folds − 1) per row, every arm spread evenly over the folds, seeded.

    Each arm's rows are shuffled and dealt out in turn, starting at a random fold, so every
    fold holds ``⌊count / folds⌋`` or one more rows of every arm.
    """
    rng = np.random.default_rng([seed, 17])
    fold = np.empty(len(treatment), dtype=np.int64)
    for arm in np.unique(treatment):
        rows = rng.permutation(np.flatnonzero(treatment == arm))
        fold[rows] = (np.arange(len(rows)) + rng.integers(folds)) % folds
    return fold
