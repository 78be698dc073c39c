"""A plan before launch: where the offers go, what removed whom, and who is left out by group.

What a bank's marketing and compliance teams review before a campaign goes out, from the plan
alone (and a customers table for the groups):

* **offers** — customers, expected cost and expected profit per offer;
* **funnel** — every customer → those with an option left after each kind of rule (the
  universal holdout, do-no-harm guardrails, contact policies, contact caps, eligibility,
  applicability, suitability), then the campaign's random holdout, then those the optimiser
  chose; and per rule, the customers it took options from;
* **no offer, and why** — customers excluded (by their first reason's kind), held out, or
  left by the optimiser (the budget and caps went to others);
* **groups** — for each sensitive column (segment, age band, region, gender, whichever are
  present): customers, the share treated and the expected profit per customer by value, and the
  ratio of the share treated to the overall share; a ratio below ``flag_ratio`` or above its
  inverse (the four-fifths rule by default) is flagged.

Invariant: every count comes from the plan's rows (none estimated); a customer of the plan who
has no row in the customers table is counted under ``(missing)``, never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.decide.guardrails import reason_parts
from uplift_engine.errors import ConfigError

SCHEMA_VERSION = "uplift.plan_report/1"
GROUP_COLUMNS = ("segment", "age", "region", "gender")
AGE_BANDS = (18, 25, 35, 45, 55, 65)
FLAG_RATIO = 0.8
MISSING = "(missing)"
KINDS = (
    "holdout", "guardrail", "contact", "contact_cap", "eligibility", "applicability",
    "suitability",
)  # fmt: skip
"""The funnel's stages, in the order the guardrails apply."""


@dataclass(frozen=True)
class PlanReport:
    """The report as data; :meth:`to_dict` for JSON, :meth:`lines` for the terminal."""

    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready report."""
        return self.body

    def lines(self) -> list[str]:
        """The report as a few tables for the terminal."""
        b = self.body
        out = [
            f"{b['customers']:,} customers; {b['treated']:,} get an offer "
            f"({b['treated_share']:.1%})"
        ]
        out += ["", "offer                 customers   expected cost   expected profit"]
        for name, o in b["offers"].items():
            out.append(
                f"{name:<20} {o['customers']:>10,} {o['expected_cost']:>15,.2f} "
                f"{o['expected_profit']:>17,.2f}"
            )
        out += ["", "funnel                              customers left"]
        for stage in b["funnel"]:
            out.append(f"{stage['stage']:<35} {stage['customers']:>14,}")
        out += ["", "no offer, why                        customers"]
        for why, n in b["no_offer"].items():
            out.append(f"{why:<35} {n:>10,}")
        for column, values in b["groups"].items():
            out += ["", f"by {column:<20} customers  treated   ratio  profit/customer"]
            for value, g in values.items():
                flag = "  ← FLAG" if g["flagged"] else ""
                out.append(
                    f"   {value:<20} {g['customers']:>9,} {g['treated_share']:>8.1%} "
                    f"{g['ratio']:>7.2f} {g['profit_per_customer']:>16,.2f}{flag}"
                )
        flagged = b["flagged"]
        out += ["", f"{len(flagged)} group(s) flagged (treated-share ratio outside "
                f"[{b['flag_ratio']:g}, {1 / b['flag_ratio']:.3g}])"]  # fmt: skip
        return out


def plan_report(
    plan: pa.Table,
    meta: dict[str, Any],
    customers: pa.Table | None = None,
    *,
    groups: Sequence[str] | None = None,
    age_bands: Sequence[int] = AGE_BANDS,
    flag_ratio: float = FLAG_RATIO,
) -> PlanReport:
    """The pre-launch report of a plan (``read_plan``'s table and metadata)."""
    if not 0 < flag_ratio < 1:
        raise ConfigError(f"flag_ratio must be in (0, 1), got {flag_ratio}", field="flag_ratio")
    if list(age_bands) != sorted(set(age_bands)) or not age_bands:
        raise ConfigError(
            f"age bands must be increasing whole numbers, got {list(age_bands)}",
            field="age_bands",
        )
    id_column = str(meta["id_column"])
    n = plan.num_rows
    offer = [o or "" for o in plan.column("offer").to_pylist()]
    why = [w or "" for w in plan.column("excluded_by").to_pylist()]
    held = [bool(h) for h in plan.column("holdout").to_pylist()]
    cost = np.asarray(plan.column("expected_cost").to_numpy(zero_copy_only=False), float)
    profit = np.asarray(plan.column("expected_profit").to_numpy(zero_copy_only=False), float)
    treated = np.array([bool(o) for o in offer])

    offers: dict[str, dict[str, Any]] = {}
    for name in meta.get("offers", []):
        mine = np.array([o == name for o in offer])
        offers[str(name)] = {
            "customers": int(mine.sum()),
            "expected_cost": float(cost[mine].sum()),
            "expected_profit": float(profit[mine].sum()),
        }
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "customers": n,
        "treated": int(treated.sum()),
        "treated_share": float(treated.mean()) if n else 0.0,
        "offers": offers,
        "funnel": _funnel(why, held, treated),
        "rules": dict(Counter(r for w in why if w for r in w.split(";")).most_common()),
        "no_offer": _no_offer(why, held, treated),
        "flag_ratio": flag_ratio,
    }
    body["groups"], body["flagged"] = _groups(
        plan.column(id_column), customers, id_column, groups, age_bands, treated, profit,
        flag_ratio,
    )  # fmt: skip
    return PlanReport(body)


def _kind(reason: str) -> str:
    return reason_parts(reason)[0]


def _funnel(why: list[str], held: list[bool], treated: np.ndarray) -> list[dict[str, Any]]:
    """Customers left with an option after each kind of rule, then the holdout and the plan."""
    first = [_kind(w.split(";")[0]) if w else None for w in why]
    left = len(why)
    stages = [{"stage": "every customer", "customers": left}]
    for kind in KINDS:
        removed = sum(1 for f in first if f == kind)
        if removed:
            left -= removed
            stages.append({"stage": f"after {kind} rules", "customers": left, "removed": removed})
    kept = sum(1 for w, h in zip(why, held, strict=True) if not w and h)
    stages.append({"stage": "after the campaign's holdout", "customers": left - kept,
                   "removed": kept})  # fmt: skip
    stages.append({"stage": "chosen by the optimiser", "customers": int(treated.sum()),
                   "removed": left - kept - int(treated.sum())})  # fmt: skip
    return stages


def _no_offer(why: list[str], held: list[bool], treated: np.ndarray) -> dict[str, int]:
    out: Counter[str] = Counter()
    for w, h, t in zip(why, held, treated, strict=True):
        if t:
            continue
        if w:
            out[f"excluded: {_kind(w.split(';')[0])}"] += 1
        elif h:
            out["the campaign's random holdout"] += 1
        else:
            out["not chosen (the budget or caps went to others)"] += 1
    return dict(out.most_common())


def _groups(
    ids: pa.ChunkedArray,
    customers: pa.Table | None,
    id_column: str,
    wanted: Sequence[str] | None,
    age_bands: Sequence[int],
    treated: np.ndarray,
    profit: np.ndarray,
    flag_ratio: float,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    if customers is None:
        if wanted:
            raise ConfigError("groups need a customers table (--customers)", field="customers")
        return {}, []
    if id_column not in customers.column_names:
        raise ConfigError(
            f"the customers table has no id column {id_column!r} (the plan's)", field="customers"
        )
    present = [c for c in (wanted or GROUP_COLUMNS) if c in customers.column_names]
    missing = [c for c in (wanted or ()) if c not in customers.column_names]
    if missing:
        raise ConfigError(
            f"group column {missing[0]!r} is not in the customers table; its columns: "
            + ", ".join(customers.column_names),
            field="groups",
        )
    keys = customers.column(id_column)
    if not keys.type.equals(ids.type):
        keys, ids = keys.cast(pa.string()), ids.cast(pa.string())
    if pc.count_distinct(keys).as_py() != len(keys):
        raise ConfigError(f"the customers table repeats ids in {id_column!r}", field="customers")
    row = pc.index_in(ids, value_set=keys.combine_chunks()).to_numpy(zero_copy_only=False)
    overall = float(treated.mean()) if len(treated) else 0.0
    out: dict[str, dict[str, Any]] = {}
    flagged: list[dict[str, Any]] = []
    for column in present:
        values = customers.column(column).to_pylist()
        labels = [
            MISSING if np.isnan(r) or values[int(r)] is None
            else _label(column, values[int(r)], age_bands)
            for r in row
        ]  # fmt: skip
        names, inverse = np.unique(np.array(labels, dtype=object), return_inverse=True)
        counts = np.bincount(inverse, minlength=len(names))
        treated_n = np.bincount(inverse, weights=treated, minlength=len(names))
        profits = np.bincount(inverse, weights=profit, minlength=len(names))
        table: dict[str, Any] = {}
        for k in sorted(range(len(names)), key=lambda k: (names[k] == MISSING, str(names[k]))):
            value = str(names[k])
            share = float(treated_n[k] / counts[k])
            ratio = share / overall if overall > 0 else float("nan")
            flag = bool(overall > 0 and (ratio < flag_ratio or ratio > 1 / flag_ratio))
            table[value] = {
                "customers": int(counts[k]),
                "treated_share": share,
                "ratio": ratio,
                "profit_per_customer": float(profits[k] / counts[k]),
                "flagged": flag,
            }
            if flag:
                flagged.append({"column": column, "value": value, "ratio": ratio})
        out[column] = table
    return out, flagged


def _label(column: str, value: object, age_bands: Sequence[int]) -> str:
    if column == "age" and isinstance(value, int | float):
        bands = list(age_bands)
        below = [b for b in bands if b <= value]
        if not below:
            return f"<{bands[0]}"
        low = below[-1]
        above = [b for b in bands if b > value]
        return f"{low}–{above[0] - 1}" if above else f"{low}+"
    return str(value)
