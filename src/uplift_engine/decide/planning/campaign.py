"""From scores to a campaign plan: economics → guardrails → holdout → optimiser → plan.

Invariant: the steps run in this order and each only narrows the previous one's options —
guardrails remove options, the holdout removes eligible customers, the optimiser picks at most
one remaining option per customer within the budget and caps. Every scored customer appears in
the plan exactly once, in the scores' order. Nothing here reads files: the CLI (or a service)
reads them and passes tables and parsed settings in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.decide.economics import Economics, offer_figures
from uplift_engine.decide.planning.baselines import top_k
from uplift_engine.decide.planning.columns import ColumnSource, match_ids
from uplift_engine.decide.planning.confidence import (
    SpendModel,
    check_confidence,
    plan_within,
)
from uplift_engine.decide.planning.guardrails import Effects, Guarded, apply_guardrails
from uplift_engine.decide.planning.holdout import Holdout, draw_holdout
from uplift_engine.decide.planning.plan import plan_table
from uplift_engine.decide.planning.summary import Summary, figures
from uplift_engine.decide.policy import CompiledPolicy
from uplift_engine.decide.solver.optimizer import solve
from uplift_engine.decide.solver.problem import Problem, Solution, chosen
from uplift_engine.errors import ConfigError, DataError, UserInputError
from uplift_engine.features.contacts import Contact
from uplift_engine.features.streaming.schema import iso_utc
from uplift_engine.learn.scores import ScoresMeta, pred_column
from uplift_engine.limits import check_amount

MISSING_SEGMENT = "(missing)"


@dataclass(frozen=True)
class Prepared:
    """A campaign ready to optimise: figures per option, guardrails, holdout, the problem."""

    offers: list[str]
    outcome_kind: str
    profit: np.ndarray  # (K, n) expected incremental profit
    cost: np.ndarray  # (K, n) expected cost
    lift: np.ndarray  # (K, n) pred_offer − pred_control
    propensity: np.ndarray  # (K, n) pred_offer
    guarded: Guarded
    holdout: Holdout
    problem: Problem
    ids: pa.Array
    id_column: str


@dataclass(frozen=True)
class CampaignPlan:
    """The plan table, its metadata, the summary and the optimiser's solution."""

    table: pa.Table
    meta: dict[str, Any]
    summary: Summary
    solution: Solution
    prepared: Prepared


def prepare_plan(
    scores: pa.Table,
    meta: ScoresMeta,
    economics: Economics,
    *,
    budget: float,
    value: float | None = None,
    value_col: str | None = None,
    customers: pa.Table | None = None,
    policy: CompiledPolicy | None = None,
    dnc: pa.Array | None = None,
    holdout: float = 0.1,
    seed: int = 42,
    contacts: Mapping[str, Sequence[Contact]] | None = None,
    at_us: int | None = None,
) -> Prepared:
    """Compute every option's figures, apply the guardrails and draw the holdout.

    ``contacts`` (customer key → contact history) and ``at_us`` (the decisions' moment) are
    what the policy's contact policies read.
    """
    if not budget >= 0:  # also refuses NaN
        raise ConfigError(f"the budget must be ≥ 0, got {budget}", field="budget")
    if math.isfinite(budget):  # math.inf: no budget (the frontier's unconstrained end)
        check_amount(budget, "the budget", field="budget", positive=True)
    offers = _check_offers(economics, meta)
    kind = economics.outcome_kind(meta.outcome_kind)
    _check_value(kind, value, value_col)
    source = ColumnSource(scores, meta.id_column, customers)
    needed: dict[str, str] = {}
    if value_col:
        needed[value_col] = "the value column"
    if policy is not None:
        policy.check_offers(offers)
        needed.update(policy.columns())
    if economics.segments is not None:
        needed[economics.segments.column] = "economics segments.column"
    source.require(needed)

    base = source.numbers(pred_column(meta.control), "scores")
    v: np.ndarray | float | None = (
        source.numbers(value_col, "the value column", non_negative=True) if value_col else value
    )
    k, n = len(offers), scores.num_rows
    propensity, profit, cost = np.empty((k, n)), np.empty((k, n)), np.empty((k, n))
    for j, offer in enumerate(offers):
        propensity[j] = source.numbers(pred_column(offer), "scores")
        profit[j], cost[j] = offer_figures(economics, kind, offer, propensity[j], base, v)

    dnc_mask = None if dnc is None else match_ids(source.ids(), dnc)
    guarded = apply_guardrails(
        offers, Effects.from_scores(scores, offers), source, policy, dnc_mask, contacts, at_us
    )
    drawn = draw_holdout(np.asarray(guarded.allowed.any(axis=0)), holdout, seed)
    groups, names, lo, hi = _segments(economics, source)
    problem = Problem(
        profit=profit,
        cost=cost,
        allowed=guarded.allowed & ~drawn.mask[None, :],
        offers=tuple(offers),
        budget=float(budget),
        max_customers=tuple(_cap(economics.offers[o].max_customers) for o in offers),
        max_budget=tuple(_cap(economics.offers[o].max_budget) for o in offers),
        groups=groups,
        group_names=names,
        min_share=lo,
        max_share=hi,
    )
    return Prepared(
        offers,
        kind,
        profit,
        cost,
        propensity - base,
        propensity,
        guarded,
        drawn,
        problem,
        source.ids(),
        meta.id_column,
    )


def plan_campaign(
    scores: pa.Table,
    meta: ScoresMeta,
    economics: Economics,
    *,
    budget: float,
    value: float | None = None,
    value_col: str | None = None,
    customers: pa.Table | None = None,
    policy: CompiledPolicy | None = None,
    dnc: pa.Array | None = None,
    holdout: float = 0.1,
    seed: int = 42,
    method: str = "auto",
    time_limit: float = 60.0,
    budget_confidence: float | None = None,
    contacts: Mapping[str, Sequence[Contact]] | None = None,
    at_us: int | None = None,
) -> CampaignPlan:
    """Decide which customer gets which offer, if any; the library form of ``uplift optimize``.

    ``dnc`` holds the ids never to contact; ``customers`` supplies columns the scores lack
    (joined on the id). The result's ``table`` is the plan, ``summary`` compares it with top-K
    by uplift and by propensity at the same budget, ``solution.prices`` can drive a
    :class:`~uplift_engine.decide.Decider` for single customers. ``budget_confidence`` (e.g.
    0.95): the plan's true spend stays within the budget with that probability, not only in
    expectation (:mod:`.confidence`); the optimiser is then given a smaller budget, recorded
    with the headroom and the profit it costs in ``meta["budget_confidence"]``.
    """
    if budget_confidence is not None:  # before any work
        check_confidence(budget_confidence, budget)
    prep = prepare_plan(
        scores,
        meta,
        economics,
        budget=budget,
        value=value,
        value_col=value_col,
        customers=customers,
        policy=policy,
        dnc=dnc,
        holdout=holdout,
        seed=seed,
        contacts=contacts,
        at_us=at_us,
    )
    sol = solve(prep.problem, method=method, seed=seed, time_limit=time_limit)
    confidence = None
    if budget_confidence is not None:
        spend = SpendModel(
            prep.cost, prep.propensity, prep.offers, economics, prep.outcome_kind,
            meta.model.get("level_calibration"), prep.lift,  # type: ignore[arg-type]
        )  # fmt: skip
        confident = plan_within(
            prep.problem, spend, budget_confidence,
            lambda p: solve(p, method=method, seed=seed, time_limit=time_limit), sol,
        )  # fmt: skip
        sol, confidence = confident.solution, confident.record
        prep = replace(prep, problem=confident.problem)
    table = plan_table(
        prep.ids,
        prep.id_column,
        prep.offers,
        sol.choice,
        chosen(prep.profit, sol.choice),
        chosen(prep.cost, sol.choice),
        prep.guarded.excluded_by,
        prep.holdout.mask,
    )
    summary = summarise(prep, sol)
    plan_meta = {
        "id_column": prep.id_column,
        "offers": prep.offers,
        "control": meta.control,
        "outcome_kind": prep.outcome_kind,
        "budget": float(budget) if math.isfinite(budget) else None,
        "budget_confidence": confidence,
        "value": value,
        "value_col": value_col,
        "economics": asdict(economics),
        "policy": None if policy is None else asdict(policy.policy),
        "contacts_as_of": None if at_us is None or contacts is None else iso_utc(at_us),
        "holdout": prep.holdout.record(),
        "optimizer": {
            "method": sol.method,
            "objective": sol.objective,
            "bound": sol.bound,
            "gap": sol.gap,
            "certified": sol.certified,
            "prices": sol.prices,
            "notes": list(sol.notes),
        },
        "guardrails": {
            "customers_excluded": prep.guarded.customers_excluded,
            "options_blocked": prep.guarded.options_blocked,
        },
        "scores": {"schema_version": meta.schema_version, "model": meta.model},
        "summary": summary.to_dict(),
    }
    return CampaignPlan(table, plan_meta, summary, sol, prep)


def summarise(prep: Prepared, sol: Solution) -> Summary:
    """The plan's figures next to top-K by uplift and by propensity at the same budget."""
    args = (prep.offers, prep.profit, prep.cost, prep.lift)
    baselines = [
        figures("top-K by uplift", top_k(prep.problem, prep.lift), *args),
        figures("top-K by propensity", top_k(prep.problem, prep.propensity), *args),
    ]
    return Summary(
        budget=prep.problem.budget,
        outcome_kind=prep.outcome_kind,
        plan=figures("optimised", sol.choice, *args),
        baselines=baselines,
        customers=prep.problem.n_customers,
        excluded=prep.guarded.customers_excluded,
        holdout=prep.holdout.record(),
        method=sol.method,
        bound=sol.bound,
        gap=sol.gap,
        certified=sol.certified,
        seconds=sol.seconds,
        notes=list(sol.notes),
    )


def _check_offers(economics: Economics, meta: ScoresMeta) -> list[str]:
    if economics.control is not None and economics.control != meta.control:
        raise ConfigError(
            f"economics control {economics.control!r} is not the scores' control {meta.control!r}",
            field="control",
        )
    for offer in economics.offers:
        if offer not in meta.offers:
            raise DataError(
                f"offer {offer!r} in the economics is not an offer of the scores; the scores "
                f"have offers {', '.join(map(repr, meta.offers))} (control {meta.control!r})",
                field=f"offers.{offer}",
            )
    unpriced = [o for o in meta.offers if o not in economics.offers]
    if unpriced:
        raise ConfigError(
            f"the economics do not price offer(s) {', '.join(map(repr, unpriced))} of the "
            "scores; price every offer, and give an offer you do not want to run "
            "max_customers: 0",
            field=f"offers.{unpriced[0]}",
        )
    return list(economics.offers)


def _check_value(kind: str, value: float | None, value_col: str | None) -> None:
    if value is not None and value_col is not None:
        raise UserInputError(
            "give either the value of a conversion or a value column, not both", field="value"
        )
    if kind == "binary" and value is None and value_col is None:
        raise UserInputError(
            "a binary outcome needs the value of a conversion, or a column with each "
            "customer's value",
            field="value",
        )
    if kind == "continuous" and (value is not None or value_col is not None):
        raise UserInputError(
            "the value of a conversion applies to a binary outcome; a continuous outcome uses the "
            "economics' margin_rate",
            field="value",
        )
    if value is not None:
        check_amount(
            value, "the value of a conversion", field="value",
            positive=True, allow_zero=False,
        )  # fmt: skip


def _cap(value: float | None) -> float:
    return math.inf if value is None else float(value)


def _segments(
    economics: Economics, source: ColumnSource
) -> tuple[np.ndarray | None, tuple[str, ...], tuple[float, ...], tuple[float, ...]]:
    spec = economics.segments
    if spec is None:
        return None, (), (), ()
    column = pc.fill_null(source.get(spec.column).cast(pa.string()), MISSING_SEGMENT)
    encoded = (
        pc.dictionary_encode(column).combine_chunks()
        if isinstance(column, pa.ChunkedArray)
        else pc.dictionary_encode(column)
    )
    names = tuple(str(v) for v in encoded.dictionary.to_pylist())
    unknown = [s for s in spec.shares if s not in names]
    if unknown:
        raise ConfigError(
            f"economics segments: {unknown[0]!r} is not a value of column {spec.column!r}; "
            f"values are {', '.join(map(repr, names[:12]))}",
            field="segments",
        )
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    lo = tuple(spec.shares[s].min if s in spec.shares else 0.0 for s in names)
    hi = tuple(spec.shares[s].max if s in spec.shares else 1.0 for s in names)
    return codes, names, lo, hi
