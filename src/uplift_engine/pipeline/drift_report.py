"""The drift report: every feature a model reads and every offer's uplift score, then and now.

The reference is the data the model was trained on (its campaign table); the current sample is
recent traffic — a table of the same features (the customers decided lately, as ``uplift decide``
reads them) and/or the service's compacted decision log, whose every decision carries each
offer's uplift. Each column is compared by :mod:`uplift_engine.evaluate.drift` (PSI, a test or a
distance fitted to the sample size, missing values, unseen categories); the uplift scores of the
reference are the model's own on it.

**The retraining rule** (configurable): retrain when an offer's uplift score has drifted, when a
feature's PSI passes ``max_psi``, or when at least ``max_drifted`` features have drifted; the
report says which applied. A current sample without a feature the model reads is an error
naming it (a broken feed, not drift).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from uplift_engine.errors import DataError
from uplift_engine.evaluate.drift import ColumnDrift, categorical_drift, numeric_drift
from uplift_engine.learn.bundle import Bundle
from uplift_engine.learn.data.scoring import score_table
from uplift_engine.learn.scores import uplift_column

SCHEMA_VERSION = "uplift.drift/1"


@dataclass(frozen=True)
class DriftReport:
    """The report as data; :meth:`to_dict` for JSON, :meth:`lines` for the terminal."""

    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready report."""
        return self.body

    def lines(self) -> list[str]:
        """The drifted columns first, then a line each for the rest."""
        b = self.body
        out = [
            f"drift: {b['features_drifted']} of {len(b['features'])} features, "
            f"{b['scores_drifted']} of {len(b['scores'])} uplift scores; "
            + ("retrain: " + "; ".join(b["retrain_because"]) if b["retrain"] else "no retraining")
        ]
        for part in ("scores", "features"):
            for c in sorted(b[part], key=lambda c: not c["drifted"]):
                stat = c.get("p_value", c.get("distance"))
                name = "p" if "p_value" in c else "distance"
                psi = "—" if c["psi"] is None else f"{c['psi']:.3f}"
                mark = "DRIFT" if c["drifted"] else "     "
                unseen = f", unseen {', '.join(c['unseen'])}" if c["unseen"] else ""
                out.append(
                    f"  {mark} {c['name']:<28} PSI {psi:>7}  {c['method']} {name} "
                    f"{'—' if stat is None else f'{stat:.3g}'}{unseen}"
                )
        return out


def _column(table: pa.Table, name: str, kind: str) -> np.ndarray:
    column = table.column(name)
    if kind == "categorical":
        return np.array(column.to_pylist(), dtype=object)
    return column.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)


def _compare(name: str, kind: str, reference: np.ndarray, current: np.ndarray) -> ColumnDrift:
    if kind == "categorical":
        return categorical_drift(name, reference, current)
    return numeric_drift(name, reference, current)


def _logged_uplift(decisions: pa.Table, offers: list[str]) -> dict[str, np.ndarray]:
    """Each offer's uplift as the service scored it, from the compacted decision log."""
    out: dict[str, list[float]] = {o: [] for o in offers}
    for text in decisions.column("offers").to_pylist():
        figures = json.loads(text) if text else {}
        for offer in offers:
            value = (figures.get(offer) or {}).get("uplift")
            out[offer].append(np.nan if value is None else float(value))
    return {o: np.asarray(v, np.float64) for o, v in out.items()}


def drift_report(
    bundle: Bundle,
    reference: pa.Table,
    current: pa.Table | None = None,
    *,
    decisions: pa.Table | None = None,
    max_psi: float = 0.25,
    max_drifted: int = 3,
) -> DriftReport:
    """Compare ``current`` (features) and/or ``decisions`` (scores) with ``reference``."""
    if current is None and decisions is None:
        raise DataError("give a current sample: a table of features or a decision log",
                        field="current")  # fmt: skip
    if max_drifted < 1 or not max_psi > 0:
        raise DataError("the retraining rule needs max_psi > 0 and max_drifted ≥ 1",
                        field="max_drifted")  # fmt: skip
    specs = bundle.encoder.specs
    missing = [s.name for s in specs if s.name not in reference.column_names]
    if missing:
        raise DataError(
            f"the reference lacks the model's feature {missing[0]!r}", field="reference"
        )
    features: list[ColumnDrift] = []
    if current is not None:
        absent = [s.name for s in specs if s.name not in current.column_names]
        if absent:
            raise DataError(
                f"the current sample lacks the model's feature {absent[0]!r} (a broken feed?)",
                field="current",
            )
        for s in specs:
            features.append(_compare(s.name, s.kind, _column(reference, s.name, s.kind),
                                     _column(current, s.name, s.kind)))  # fmt: skip
    offers = list(bundle.offers)
    ref_scores, _ = score_table(bundle, reference)
    now: dict[str, np.ndarray] = {}
    if decisions is not None:
        now = _logged_uplift(decisions, offers)
    elif current is not None:
        cur_scores, _ = score_table(bundle, current)
        now = {o: _column(cur_scores, uplift_column(o), "numeric") for o in offers}
    scores = [
        numeric_drift(uplift_column(o), _column(ref_scores, uplift_column(o), "numeric"), now[o])
        for o in offers
    ]
    because = [f"uplift score {c.name} drifted ({c.method})" for c in scores if c.drifted]
    because += [f"feature {c.name} PSI {c.psi:.2f} > {max_psi:g}" for c in features
                if np.isfinite(c.psi) and c.psi > max_psi]  # fmt: skip
    drifted = sum(c.drifted for c in features)
    if drifted >= max_drifted:
        because.append(f"{drifted} features drifted (≥ {max_drifted})")
    body = {
        "schema_version": SCHEMA_VERSION,
        "reference_rows": reference.num_rows,
        "current_rows": None if current is None else current.num_rows,
        "decisions": None if decisions is None else decisions.num_rows,
        "features": [c.to_dict() for c in features],
        "scores": [c.to_dict() for c in scores],
        "features_drifted": drifted,
        "scores_drifted": sum(c.drifted for c in scores),
        "rule": {"max_psi": max_psi, "max_drifted": max_drifted},
        "retrain": bool(because),
        "retrain_because": because,
    }
    return DriftReport(body)
