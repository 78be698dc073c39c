"""The gate: whether a candidate beats the champion on customers neither was trained on.

Both models are judged on the *gate customers* — a seeded share of the latest randomised
campaign, held out from the candidate's training — by one of two metrics, paired (the same
customers, so the noise both share cancels):

- ``policy_value`` (default): each model plans the gate customers with the campaign's
  economics, policy and budget per customer (the plan the release would price), and the two
  plans are valued on the customers' randomised outcomes, doubly robust, with Measurement's
  estimator (:func:`~uplift_engine.pipeline.policy_comparison.compare_plans`): profit per
  customer, and ``V(candidate) − V(champion)`` with its normal interval;
- ``qini``: the mean over offers of the Qini coefficient of each model's uplift scores, the
  difference's interval from a paired bootstrap (the same resamples for both).

With no champion (a first run, or a champion that cannot read the campaign), the candidate is
judged against giving no one an offer (``policy_value``) or random scores (``qini``: 0).
The candidate passes when the difference exceeds the margin *and* its interval's lower end
is above zero, and when every guardrail check passes: its release plan spends within the
budget, and (when configured) its plan treats the groups of the named columns within the
four-fifths rule for at most ``max_flagged_groups`` of them. Every check and the reasons a
candidate failed are in the verdict, which the registry and the run record keep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from uplift_engine.config.settings import Settings
from uplift_engine.decide.economics import Economics
from uplift_engine.decide.planning import plan_campaign
from uplift_engine.decide.planning.plan_report import plan_report
from uplift_engine.decide.policy import CompiledPolicy
from uplift_engine.errors import DataError
from uplift_engine.evaluate.curves import qini_coefficient
from uplift_engine.evaluate.estimate import Estimate, json_number
from uplift_engine.learn import Bundle
from uplift_engine.learn.data import encode_campaign
from uplift_engine.learn.data.scoring import score_table
from uplift_engine.learn.scores import uplift_column
from uplift_engine.pipeline.pipeline_config import GateConfig
from uplift_engine.pipeline.policy_comparison import compare_plans
from uplift_engine.pipeline.train import TrainOptions, campaign_roles

BOOTSTRAP = 200


@dataclass(frozen=True)
class Pricing:
    """How plans are made: the economics, the value of a conversion, the policy, the budget."""

    economics: Economics
    economics_map: dict[str, Any]
    value: float
    policy: CompiledPolicy | None
    budget_per_customer: float
    seed: int


@dataclass(frozen=True)
class Verdict:
    """The gate's decision and everything it was made from."""

    passed: bool
    metric: str
    unit: str
    against: str
    """``champion <release>`` or what the candidate was compared with instead."""
    candidate: float | None
    champion: float | None
    difference: dict[str, float | None]
    margin: float
    level: float
    customers: int
    checks: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    """Why it failed, one sentence each (empty when it passed)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def plan_for(bundle: Bundle, table: pa.Table, pricing: Pricing, *, holdout: float = 0.0) -> Any:
    """The plan ``bundle`` makes for the customers of ``table`` at the budget per customer."""
    scores, meta = score_table(bundle, table)
    return plan_campaign(
        scores,
        meta,
        pricing.economics,
        budget=pricing.budget_per_customer * table.num_rows,
        value=pricing.value,
        customers=table,
        policy=pricing.policy,
        holdout=holdout,
        seed=pricing.seed,
    )


def judge(
    table: pa.Table,
    options: TrainOptions,
    candidate: Bundle,
    champion: tuple[str, Bundle] | None,
    pricing: Pricing,
    gate: GateConfig,
    release_plan: tuple[pa.Table, dict[str, Any]],
    customers: pa.Table,
    settings: Settings,
) -> Verdict:
    """The verdict on ``candidate`` against ``champion`` (its release id and bundle).

    ``release_plan``: the plan the release would serve (table and metadata), made for
    ``customers``, whose guardrails are checked.
    """
    reasons: list[str] = []
    against = "no offer to anyone" if gate.metric == "policy_value" else "random scores"
    if champion is not None:
        try:
            score_table(champion[1], table.slice(0, 1))
            if list(champion[1].arms) != list(candidate.arms):
                raise DataError(f"its arms {champion[1].arms} are not {candidate.arms}")
            against = f"champion {champion[0]}"
        except DataError as exc:
            against = f"{against} (the champion cannot be judged here: {exc.message})"
            champion = None
    rival = None if champion is None else champion[1]
    if gate.metric == "policy_value":
        a, b, difference, unit = _policy_values(table, options, candidate, rival, pricing, gate,
                                                settings)  # fmt: skip
    else:
        a, b, difference, unit = _qini(table, options, candidate, rival, gate, pricing.seed)
    if not difference.value > gate.margin:
        reasons.append(
            f"the candidate's {gate.metric} ({_fmt(a)}) beats {against} ({_fmt(b)}) by "
            f"{_fmt(difference.value)} {unit}, not by more than the margin {gate.margin:g}"
        )
    elif not difference.low > 0:
        reasons.append(
            f"the candidate's lead over {against}, {_fmt(difference.value)} {unit}, is not "
            f"sure: its {gate.level:.0%} interval reaches {_fmt(difference.low)}"
        )
    checks = _guardrails(release_plan, customers, gate)
    reasons += [c["detail"] for c in checks if not c["passed"]]
    return Verdict(
        passed=not reasons,
        metric=gate.metric,
        unit=unit,
        against=against,
        candidate=json_number(a),
        champion=json_number(b),
        difference=difference.to_dict(),
        margin=gate.margin,
        level=gate.level,
        customers=table.num_rows,
        checks=checks,
        reasons=reasons,
    )


def _fmt(value: float) -> str:
    return f"{value:.4g}" if np.isfinite(value) else "undefined"


def _policy_values(
    table: pa.Table,
    options: TrainOptions,
    candidate: Bundle,
    champion: Bundle | None,
    pricing: Pricing,
    gate: GateConfig,
    settings: Settings,
) -> tuple[float, float, Estimate, str]:
    id_name = candidate.columns.id
    mine = plan_for(candidate, table, pricing).table
    if champion is not None:
        theirs = plan_for(champion, table, pricing).table
    else:  # no one gets an offer
        theirs = pa.table({id_name: table.column(id_name).slice(0, 0),
                           "offer": pa.array([], pa.string())})  # fmt: skip
    compared = compare_plans(
        table, options, ((mine, id_name), (theirs, id_name)), settings,
        economics=pricing.economics_map, value=pricing.value, level=gate.level,
    )  # fmt: skip
    c = compared.comparison
    return c.value_a.value, c.value_b.value, c.difference, compared.unit


def _qini(
    table: pa.Table,
    options: TrainOptions,
    candidate: Bundle,
    champion: Bundle | None,
    gate: GateConfig,
    seed: int,
) -> tuple[float, float, Estimate, str]:
    roles, control, _ = campaign_roles(table, options)
    data = encode_campaign(table, roles, control, options.arm_map)
    names = list(data.arms.names)
    if names != list(candidate.arms):
        raise DataError(f"the candidate's arms {candidate.arms} are not the campaign's {names}")

    def effects(model: Bundle) -> np.ndarray:
        scores, _ = score_table(model, table)
        return np.column_stack([
            scores.column(uplift_column(o)).to_numpy(zero_copy_only=False) for o in names[1:]
        ])  # fmt: skip

    mine = effects(candidate)
    theirs = None if champion is None else effects(champion)
    t, y = data.treatment, data.y

    def mean_qini(rows: np.ndarray, e: np.ndarray | None) -> float:
        if e is None:
            return 0.0
        values = []
        for k in range(1, len(names)):
            keep = rows[(t[rows] == 0) | (t[rows] == k)]
            values.append(qini_coefficient(e[keep, k - 1], t[keep] == k, y[keep]))
        return float(np.nanmean(values))

    everyone = np.arange(len(y))
    a, b = mean_qini(everyone, mine), mean_qini(everyone, theirs)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(y), len(y))
        diffs.append(mean_qini(rows, mine) - mean_qini(rows, theirs))
    tail = (1 - gate.level) / 2
    low, high = np.nanquantile(diffs, [tail, 1 - tail])
    return a, b, Estimate(a - b, float(low), float(high)), "Qini coefficient"


def _guardrails(
    plan: tuple[pa.Table, dict[str, Any]], customers: pa.Table, gate: GateConfig
) -> list[dict[str, Any]]:
    table, meta = plan
    spend, budget = float(meta["summary"]["plan"]["spend"]), float(meta["summary"]["budget"])
    checks = [
        {
            "name": "budget",
            "passed": bool(spend <= budget * (1 + 1e-9)),
            "detail": f"the release plan spends {spend:,.2f} of its budget {budget:,.2f}",
        }
    ]
    if gate.groups:
        report = plan_report(table, meta, customers, groups=gate.groups)
        flagged = report.to_dict()["flagged"]
        limit = gate.max_flagged_groups
        shown = ", ".join(f"{f['column']}={f['value']} ({f['ratio']:.2f})" for f in flagged)
        checks.append(
            {
                "name": "groups",
                "passed": limit is None or len(flagged) <= limit,
                "detail": f"the release plan flags {len(flagged)} group(s) by the four-fifths "
                f"rule{': ' + shown if flagged else ''}"
                + ("" if limit is None else f" (at most {limit} allowed)"),
            }
        )
    return checks
