"""After a campaign: what it really added, per offer and segment, and whether the model was right.

Inputs: the plan the campaign ran from (its ``holdout`` column: the random holdout drawn among
the customers it could treat; ``excluded_by``: who the guardrails left out, the universal
holdout among them), the outcomes (the plan's id, ``converted``, optionally ``revenue``), and
optionally the scores the plan was made from (for the per-offer split, the calibration and the
model's baseline as a covariate) and a customers table (segments, covariates).

* **campaign** — every customer the plan could treat and did not hold out (offered or not: the
  budget chose among them) against the holdout: incremental conversions and revenue with their
  intervals (:mod:`uplift_engine.evaluate.measurement`), the realised cost (contact costs of the
  offers made, plus redemptions or revenue given back, from the plan's economics), the
  incremental profit (value of the incremental conversions, or margin on the incremental
  revenue, less the cost) and the ROI (incremental profit / cost);
* **by offer** — the customers offered ``k`` against the held-out customers the plan's prices
  would have offered ``k`` (the plan's decision rule, :class:`~uplift_engine.decide.Decider`,
  applied to the holdout's scores: needs the scores);
* **by segment** — within each value of the segment column;
* **programme** — every customer outside the universal holdout against its members (when the
  plan's policy had one): the whole programme's effect;
* **calibration** — by decile of the predicted uplift of the (would-be) offer: the mean predicted
  uplift next to the observed difference in conversion rates, with its interval.

Invariant: nothing is dropped silently — outcomes of customers not in the plan, plan customers
without an outcome, are counted in ``inputs`` and left out of every comparison; duplicate ids
and a plan without a holdout are errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.decide import Decider
from uplift_engine.decide.universal_holdout import REASON as UNIVERSAL
from uplift_engine.errors import DataError
from uplift_engine.evaluate.estimate import NAN, Estimate, json_number
from uplift_engine.evaluate.measurement import (
    MIN_GROUP,
    cross_fitted_prediction,
    difference_total,
    increment,
    ratio_interval,
)
from uplift_engine.learn.scores import pred_column, uplift_column

SCHEMA_VERSION = "uplift.measurement/1"


@dataclass(frozen=True)
class Measurement:
    """The measurement as data; :meth:`to_dict` for JSON, :meth:`lines` for the terminal."""

    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready report."""
        return self.body

    def lines(self) -> list[str]:
        """The campaign's figures, offer by offer, for a person to read."""
        b = self.body
        level = f"{b['level']:.0%}"
        out = [f"campaign measured against its holdouts ({level} intervals)"]
        parts = [("campaign", b["campaign"])] if b["campaign"] is not None else []
        for name, part in [*parts, *b["by_offer"].items()]:
            conv = part["conversions"]["estimate"]
            out.append(
                f"  {name:<14} treated {part['conversions']['treated']:>8,}  held out "
                f"{part['conversions']['held_out']:>7,}  incremental conversions "
                f"{_text(conv)}  ROI {_text(part['roi'], percent=True)}"
            )
        narrower = (b["campaign"] or b["programme"])["conversions"]["interval_narrower_by"]
        if narrower is not None:
            out.append(f"  regression adjustment: intervals {narrower:.0%} narrower than plain")
        if b["programme"] is not None:
            conv = b["programme"]["conversions"]["estimate"]
            out.append(f"  programme vs universal holdout: incremental conversions {_text(conv)}")
        for note in b["inputs"]["notes"]:
            out.append(f"  note: {note}")
        return out


def _text(est: Mapping[str, float | None], *, percent: bool = False) -> str:
    def f(v: float | None) -> str:
        if v is None:
            return "—"
        return f"{v:.1%}" if percent else f"{v:,.1f}"

    return f"{f(est['value'])} [{f(est['low'])}, {f(est['high'])}]"


def measure_campaign(
    plan: pa.Table,
    meta: Mapping[str, Any],
    outcomes: pa.Table,
    *,
    scores: pa.Table | None = None,
    customers: pa.Table | None = None,
    segment: str | None = None,
    covariates: Sequence[str] = (),
    level: float = 0.9,
    seed: int = 0,
) -> Measurement:
    """Measure a campaign run from ``plan`` (see the module docstring)."""
    if not 0.5 <= level < 1:
        raise DataError(f"the interval level must be in [0.5, 1), got {level}", field="level")
    id_column = str(meta["id_column"])
    for name in (id_column, "converted"):
        if name not in outcomes.column_names:
            raise DataError(f"the outcomes lack the column {name!r}", field=name)
    _unique(plan.column(id_column), "plan")
    _unique(outcomes.column(id_column), "outcomes")
    plan_ids = plan.column(id_column).cast(pa.string())
    out_ids = outcomes.column(id_column).cast(pa.string())
    index = pc.index_in(plan_ids, value_set=out_ids)
    known = np.asarray(pc.is_valid(index).to_numpy(zero_copy_only=False), bool)
    at_index = pc.fill_null(index, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    strangers = int(pc.sum(pc.invert(pc.is_in(out_ids, value_set=plan_ids))).as_py() or 0)
    notes = []
    if strangers:
        notes.append(f"{strangers:,} outcome(s) of customers not in the plan were left out")
    if not known.all():
        notes.append(f"{int((~known).sum()):,} plan customer(s) have no outcome and were left out")

    def outcome(name: str) -> np.ndarray:
        values = outcomes.column(name).cast(pa.float64()).fill_null(np.nan)
        return values.to_numpy(zero_copy_only=False)[at_index]

    converted = outcome("converted")
    revenue = outcome("revenue") if "revenue" in outcomes.column_names else None
    bad = known & np.isnan(converted)
    if bad.any():
        notes.append(f"{int(bad.sum()):,} outcome(s) without 'converted' were left out")
        known &= ~bad
    offers = pc.fill_null(plan.column("offer").cast(pa.string()), "").to_numpy(
        zero_copy_only=False
    )
    held = plan.column("holdout").to_numpy(zero_copy_only=False).astype(bool)
    why = pc.fill_null(plan.column("excluded_by").cast(pa.string()), "").to_pylist()
    eligible = np.array([w == "" for w in why])
    universal = np.array([UNIVERSAL in w.split(";") for w in why])
    if not held.any() and not universal.any():
        raise DataError(
            "the plan kept no random holdout (uplift optimize --holdout) and no customer is in "
            "a universal holdout: without one the campaign's effect cannot be measured",
            field="holdout",
        )
    policy = eligible & ~held & known
    holdout = eligible & held & known
    columns = _columns(plan, id_column, scores, customers)
    X = _covariates(columns, meta, covariates, len(plan))
    economics = meta["economics"]["offers"]
    value_col = meta.get("value_col")
    value = meta.get("value")
    values = (
        columns[value_col].astype(float)
        if value_col and value_col in columns
        else np.full(len(plan), float(value or 0.0))
    )
    kind = meta.get("outcome_kind") or "binary"
    cost = np.zeros(len(plan))
    for name, terms in economics.items():
        rows = (offers == name) & known
        if kind == "binary":
            redemption = terms.get("redemption_cost") or 0.0
            cost[rows] = terms["contact_cost"] + redemption * converted[rows]
        else:
            rate = terms.get("cost_rate") or 0.0
            got = np.zeros(rows.sum()) if revenue is None else np.nan_to_num(revenue[rows])
            cost[rows] = terms["contact_cost"] + rate * np.maximum(got, 0.0)
    margin = float(meta["economics"].get("margin_rate") or 0.0)
    if kind != "binary" and revenue is None:
        raise DataError("a continuous campaign's outcomes need a 'revenue' column", field="revenue")
    gain = converted * values if revenue is None or kind == "binary" else margin * np.nan_to_num(
        revenue
    )
    fitted = known.copy()
    predicted = {
        "conversions": cross_fitted_prediction(converted, X, fitted, seed=seed) if X.size else None,
        "value": cross_fitted_prediction(gain, X, fitted, seed=seed + 1) if X.size else None,
    }
    if revenue is not None and X.size:
        predicted["revenue"] = cross_fitted_prediction(
            np.nan_to_num(revenue), X, fitted, seed=seed + 2
        )

    def compare(treated: np.ndarray, control: np.ndarray) -> dict[str, Any]:
        part: dict[str, Any] = {
            "conversions": increment(
                converted, treated, control, level=level, predicted=predicted["conversions"]
            ).to_dict()
        }
        if revenue is not None:
            part["revenue"] = increment(
                np.nan_to_num(revenue), treated, control, level=level,
                predicted=predicted.get("revenue"),
            ).to_dict()  # fmt: skip
        spent = float(cost[treated].sum())
        worth = increment(gain, treated, control, level=level, predicted=predicted["value"]).best
        profit = Estimate(worth.value - spent, worth.low - spent, worth.high - spent)
        part["cost"] = spent
        part["incremental_profit"] = profit.to_dict()
        part["roi"] = ratio_interval(profit, spent).to_dict()
        return part

    would = _would_be_offers(meta, scores, columns, held & eligible, offers)
    by_offer = {}
    for name in economics:
        treated, control = policy & (offers == name), holdout & (would == name)
        if would is not None and holdout.any() and (treated.any() or control.any()):
            by_offer[name] = compare(treated, control)
    by_segment: dict[str, Any] = {}
    if segment is not None:
        if segment not in columns:
            raise DataError(
                f"segment column {segment!r} is not in the plan, scores or customers",
                field="segment",
            )
        labels = np.array([str(v) if v is not None else "(missing)" for v in columns[segment]])
        for label in sorted(set(labels[eligible])) if holdout.any() else ():
            by_segment[label] = compare(policy & (labels == label), holdout & (labels == label))
    programme = None
    if universal.any():
        programme = compare(~universal & known, universal & known)
    body = {
        "schema_version": SCHEMA_VERSION,
        "level": level,
        "inputs": {
            "plan_customers": len(plan),
            "outcomes": outcomes.num_rows,
            "outcomes_not_in_plan": strangers,
            "plan_customers_without_outcome": int((~known).sum()),
            "treatable": int(eligible.sum()),
            "held_out": int((held & eligible).sum()),
            "universal_holdout": int(universal.sum()),
            "covariates": _covariate_names(columns, meta, covariates),
            "notes": notes,
        },
        "campaign": compare(policy, holdout) if holdout.any() else None,
        "by_offer": by_offer,
        "by_offer_note": None if would is not None else "needs the scores (--scores)",
        "by_segment": by_segment,
        "programme": programme,
        "calibration": _calibration(
            scores, columns, offers, would, policy, holdout, converted, level
        ),
    }
    return Measurement(body)


def _unique(ids: pa.ChunkedArray, where: str) -> None:
    counts = pc.value_counts(ids)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        first = repeated[0]["values"].as_py()
        raise DataError(
            f"the {where} hold customer {first!r} more than once ({len(repeated):,} repeated "
            "ids): one row a customer",
            field="customer_id",
        )


def _columns(
    plan: pa.Table, id_column: str, scores: pa.Table | None, customers: pa.Table | None
) -> dict[str, np.ndarray]:
    """Every column of the plan, the scores and the customers, aligned on the plan's rows."""
    out: dict[str, np.ndarray] = {
        n: plan.column(n).to_numpy(zero_copy_only=False) for n in plan.column_names
    }
    ids = plan.column(id_column).cast(pa.string())
    for table, name in ((scores, "scores"), (customers, "customers")):
        if table is None:
            continue
        if id_column not in table.column_names:
            raise DataError(f"the {name} lack the id column {id_column!r}", field=id_column)
        where = pc.index_in(ids, value_set=table.column(id_column).cast(pa.string()))
        if where.null_count:
            raise DataError(
                f"{where.null_count:,} plan customer(s) are not in the {name}", field=id_column
            )
        taken = table.take(where)
        for column in taken.column_names:
            out.setdefault(column, taken.column(column).to_numpy(zero_copy_only=False))
    return out


def _covariate_names(
    columns: Mapping[str, np.ndarray], meta: Mapping[str, Any], covariates: Sequence[str]
) -> list[str]:
    names = []
    baseline = pred_column(str(meta["control"]))
    if baseline in columns:
        names.append(baseline)
    for name in covariates:
        if name not in columns:
            raise DataError(
                f"covariate {name!r} is not in the plan, scores or customers", field="covariates"
            )
        names.append(name)
    return names


def _covariates(
    columns: Mapping[str, np.ndarray], meta: Mapping[str, Any], covariates: Sequence[str], n: int
) -> np.ndarray:
    names = _covariate_names(columns, meta, covariates)
    if not names:
        return np.empty((n, 0))
    out = np.empty((n, len(names)))
    for j, name in enumerate(names):
        try:
            out[:, j] = np.asarray(columns[name], dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"covariate {name!r} is not numeric", field="covariates") from None
    return out


def _would_be_offers(
    meta: Mapping[str, Any],
    scores: pa.Table | None,
    columns: Mapping[str, np.ndarray],
    held: np.ndarray,
    offers: np.ndarray,
) -> np.ndarray | None:
    """The plan's offers, and for the held-out customers the offer its prices would give."""
    if scores is None:
        return None
    decider = Decider.from_plan_meta(meta)
    would = offers.copy()
    names = list(columns)
    for i in np.flatnonzero(held):
        row = {n: _plain(columns[n][i]) for n in names}
        would[i] = decider.decide(row, (), None).offer
    return would


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _calibration(
    scores: pa.Table | None,
    columns: Mapping[str, np.ndarray],
    offers: np.ndarray,
    would: np.ndarray | None,
    policy: np.ndarray,
    holdout: np.ndarray,
    converted: np.ndarray,
    level: float,
) -> list[dict[str, Any]]:
    """By decile of the (would-be) offer's predicted uplift: predicted against observed."""
    if scores is None or would is None:
        return []
    chosen = np.where(policy, offers, np.where(holdout, would, ""))
    rows = np.flatnonzero(chosen != "")
    if rows.size < 10 * 2 * MIN_GROUP:
        return []
    predicted = np.full(offers.size, np.nan)
    for name in set(chosen[rows]):
        column = uplift_column(name)
        if column in columns:
            picked = chosen == name
            predicted[picked] = np.asarray(columns[column], dtype=float)[picked]
    rows = rows[~np.isnan(predicted[rows])]
    edges = np.quantile(predicted[rows], np.linspace(0, 1, 11))
    decile = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, 9)
    out = []
    for d in range(10):
        inside = np.zeros(offers.size, bool)
        inside[rows] = decile[rows] == d
        treated, control = policy & inside, holdout & inside
        total, se = difference_total(converted, treated, control, level)
        n = max(int(treated.sum()), 1)
        observed = Estimate(total.value / n, total.low / n, total.high / n)
        out.append(
            {
                "decile": d + 1,
                "treated": int(treated.sum()),
                "held_out": int(control.sum()),
                "predicted_uplift": json_number(float(predicted[inside].mean()))
                if inside.any()
                else None,
                "observed_uplift": observed.to_dict(),
                "se": json_number(se / n if np.isfinite(se) else NAN),
            }
        )
    return out


def plan_from_decisions(decisions: pa.Table, id_column: str) -> pa.Table:
    """The service's decisions as a plan to measure: one row per customer, oldest first.

    ``decisions``: the compacted decision log (:func:`uplift_engine.serve.compact.
    read_decisions`). A customer's offer is the first one made to them; a customer is in the
    universal holdout when a decision held every offer back for it (``holdout:universal``). The
    service draws no campaign holdout, so only the programme (against the universal holdout)
    can be measured from it.
    """
    import json

    order = pc.sort_indices(decisions, [("at", "ascending"), ("request_id", "ascending")])
    rows = decisions.take(order)
    first_offer: dict[str, str] = {}
    universal: set[str] = set()
    for customer, offer, offers in zip(
        rows.column("customer_id").to_pylist(), rows.column("offer").to_pylist(),
        rows.column("offers").to_pylist(), strict=True,
    ):  # fmt: skip
        first_offer.setdefault(customer, "")
        if offer and not first_offer[customer]:
            first_offer[customer] = offer
        figures = json.loads(offers) if offers else {}
        held = [f.get("excluded_by") for f in figures.values()]
        if held and all(h == {"kind": "holdout", "name": "universal"} for h in held):
            universal.add(customer)
    ids = list(first_offer)
    return pa.table(
        {
            id_column: ids,
            "offer": [first_offer[c] for c in ids],
            "holdout": [False] * len(ids),
            "excluded_by": [UNIVERSAL if c in universal else "" for c in ids],
        }
    )
