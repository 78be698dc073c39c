"""End to end on a population with known true effects (decide/synthetic.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from uplift_engine.decide import Decider
from uplift_engine.decide.planning import (
    PLAN_SCHEMA_VERSION,
    ColumnSource,
    evaluate_columns,
    load_economics,
    load_policy,
    plan_campaign,
    read_plan,
    write_plan,
)
from uplift_engine.decide.planning.baselines import top_k
from uplift_engine.decide.planning.synthetic import synthetic_campaign
from uplift_engine.errors import ConfigError, DataError, UserInputError
from uplift_engine.learn.scores import ScoresMeta

ECONOMICS = {
    "control": "none",
    "offers": {
        "cashback": {"contact_cost": 1.0, "redemption_cost": 20.0, "max_customers": 700},
        "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5.0, "max_budget": 2500.0},
    },
}
POLICY = {
    "protected": 'segment == "priority" or is_vip',
    "eligibility": [{"name": "adults", "when": "age >= 21", "offers": ["cashback"]}],
    "contact_caps": [{"column": "contacts_30d", "max": 4}],
}
BUDGET = 6_000.0


@pytest.fixture(scope="module")
def camp():
    return synthetic_campaign(6_000, seed=3)


@pytest.fixture(scope="module")
def plan(camp):
    dnc = camp.scores.column("customer_id").slice(0, 40)
    return plan_campaign(
        camp.scores,
        camp.meta,
        load_economics(ECONOMICS),
        budget=BUDGET,
        value_col="clv",
        customers=camp.customers,
        policy=load_policy(POLICY),
        dnc=dnc,
        seed=11,
    )


def clv(camp) -> np.ndarray:
    return ColumnSource(camp.scores, "customer_id", camp.customers).numbers("clv", "test")


def true_profit(camp, choice: np.ndarray) -> float:
    """Incremental profit of a choice vector under the TRUE conversion probabilities."""
    v = clv(camp)
    total = 0.0
    for j, offer in enumerate(camp.offers):
        terms = ECONOMICS["offers"][offer]
        mine = choice == j
        p_k, p_0 = camp.truth[1 + j, mine], camp.truth[0, mine]
        total += float(
            np.sum(
                p_k * (v[mine] - terms["redemption_cost"]) - p_0 * v[mine] - terms["contact_cost"]
            )
        )
    return total


def test_plan_beats_top_k_by_uplift_and_by_propensity_on_true_profit(camp, plan):
    prep = plan.prepared
    mine = true_profit(camp, plan.solution.choice)
    by_uplift = true_profit(camp, top_k(prep.problem, prep.lift))
    by_propensity = true_profit(camp, top_k(prep.problem, prep.propensity))
    assert mine > by_uplift > by_propensity
    assert mine > 1.2 * by_uplift
    # the summary reports the same three strategies at the same budget, in expectation
    s = plan.summary
    assert [f.strategy for f in [s.plan, *s.baselines]] == [
        "optimised",
        "top-K by uplift",
        "top-K by propensity",
    ]
    assert all(f.spend <= BUDGET * (1 + 1e-9) for f in [s.plan, *s.baselines])
    assert s.plan.profit > s.baselines[0].profit > s.baselines[1].profit


def test_budget_and_every_cap_hold(plan):
    t = plan.table
    offer = np.asarray(t.column("offer").to_pylist())
    cost = t.column("expected_cost").to_numpy()
    assert cost.sum() <= BUDGET * (1 + 1e-9)
    assert (offer == "cashback").sum() <= 700
    assert cost[offer == "fee_waiver"].sum() <= 2500.0 * (1 + 1e-9)
    assert plan.summary.plan.spend == pytest.approx(cost.sum())
    assert (cost[offer == ""] == 0).all() and (
        t.column("expected_profit").to_numpy()[offer == ""] == 0
    ).all()


def test_protected_customers_with_intervals_crossing_zero_are_never_treated(camp, plan):
    protected = load_policy(POLICY).protected
    source = ColumnSource(camp.scores, "customer_id", camp.customers)
    is_protected = evaluate_columns(
        protected, source.gather(protected.columns), camp.scores.num_rows, True
    )
    offer = np.asarray(plan.table.column("offer").to_pylist())
    assert is_protected.sum() > 300
    for name in camp.offers:
        lower = camp.scores.column(f"uplift_{name}_lower").to_numpy()
        given = is_protected & (offer == name)
        assert (lower[given] > 0).all()
        assert not (is_protected & (lower <= 0) & (offer == name)).any()
    assert (is_protected & (offer != "")).sum() > 0  # protection is not a blanket ban


def test_dnc_customers_are_never_treated(camp, plan):
    first = np.zeros(camp.scores.num_rows, bool)
    first[:40] = True
    assert (np.asarray(plan.table.column("offer").to_pylist())[first] == "").all()
    assert set(plan.table.column("excluded_by").to_pylist()[:40]) == {"dnc"}
    assert plan.summary.excluded["dnc"] == 40


def test_sleeping_dogs_are_left_alone(camp, plan):
    offer = np.asarray(plan.table.column("offer").to_pylist())
    dogs = camp.kind == "sleeping_dog"
    assert dogs.sum() > 500
    assert (offer[dogs] != "").mean() < 0.01


def test_holdout_is_untreated_random_and_balanced(camp, plan):
    t = plan.table
    held = t.column("holdout").to_numpy(zero_copy_only=False)
    offer = np.asarray(t.column("offer").to_pylist())
    eligible = np.asarray(t.column("excluded_by").to_pylist()) == ""
    assert (offer[held] == "").all()
    assert not (held & ~eligible).any()
    assert held.sum() == round(0.1 * eligible.sum())
    record = plan.meta["holdout"]
    assert record["seed"] == 11 and record["count"] == held.sum()
    source = ColumnSource(camp.scores, "customer_id", camp.customers)
    features = {
        "age": source.numbers("age", "t"),
        "income": source.numbers("income", "t"),
        "clv": source.numbers("clv", "t"),
        "true_p0": camp.truth[0],
    }
    rest = eligible & ~held
    for name, x in features.items():
        se = np.sqrt(x[held].var() / held.sum() + x[rest].var() / rest.sum())
        assert abs(x[held].mean() - x[rest].mean()) < 4 * se, name


def test_holdout_draw_is_reproducible_by_seed(camp):
    eco = load_economics(ECONOMICS)
    a = plan_campaign(
        camp.scores, camp.meta, eco, budget=100.0, value=50.0, seed=5, method="lagrangian"
    )
    b = plan_campaign(
        camp.scores, camp.meta, eco, budget=100.0, value=50.0, seed=5, method="lagrangian"
    )
    c = plan_campaign(
        camp.scores, camp.meta, eco, budget=100.0, value=50.0, seed=6, method="lagrangian"
    )
    assert a.table.column("holdout").equals(b.table.column("holdout"))
    assert not a.table.column("holdout").equals(c.table.column("holdout"))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"], ids=["parquet", "csv"])
def test_plan_file_round_trip_with_schema_version(tmp_path, plan, suffix):
    path = tmp_path / f"plan{suffix}"
    write_plan(plan.table, plan.meta, path)
    table, meta = read_plan(path)
    assert meta["schema_version"] == PLAN_SCHEMA_VERSION
    assert table.column_names == [
        "customer_id",
        "offer",
        "expected_profit",
        "expected_cost",
        "excluded_by",
        "holdout",
    ]
    assert table.column("offer").to_pylist() == plan.table.column("offer").to_pylist()
    assert table.column("customer_id").to_pylist() == plan.table.column("customer_id").to_pylist()
    assert meta["optimizer"]["gap"] <= 1e-4 and meta["budget"] == BUDGET
    if suffix == ".csv":
        assert (tmp_path / "plan.csv.meta.json").exists()


def test_decider_reproduces_the_plan_one_customer_at_a_time(camp, plan, tmp_path):
    path = tmp_path / "plan.parquet"
    write_plan(plan.table, plan.meta, path)
    _, meta = read_plan(path)
    dnc = camp.scores.column("customer_id").slice(0, 40).to_pylist()
    decider = Decider.from_plan_meta(meta, dnc=dnc)
    source = ColumnSource(camp.scores, "customer_id", camp.customers)
    names = [*camp.scores.column_names, "age", "contacts_30d", "is_vip", "clv"]
    columns = {n: source.get(n).to_pylist() for n in names}
    t = plan.table
    offers, excluded = t.column("offer").to_pylist(), t.column("excluded_by").to_pylist()
    held = t.column("holdout").to_pylist()
    agree = 0
    for i in range(t.num_rows):
        d = decider.decide({n: columns[n][i] for n in names})
        assert d.excluded_by == excluded[i]
        agree += held[i] or d.offer == offers[i]
    assert agree / t.num_rows > 0.995


def test_decider_single_customer_is_cheap(plan):
    import time

    decider = Decider(
        load_economics(ECONOMICS),
        control="none",
        value=80.0,
        policy=load_policy(POLICY),
        prices=plan.solution.prices,
    )
    row = {
        "customer_id": 1,
        "pred_none": 0.1,
        "pred_cashback": 0.3,
        "pred_fee_waiver": 0.15,
        "uplift_cashback": 0.2,
        "uplift_cashback_lower": 0.05,
        "uplift_cashback_upper": 0.3,
        "uplift_fee_waiver": 0.05,
        "segment": "mass",
        "is_vip": False,
        "age": 30,
        "contacts_30d": 1,
    }
    assert decider.decide(row).offer == "cashback"
    started = time.perf_counter()
    for _ in range(2_000):
        decider.decide(row)
    assert (time.perf_counter() - started) / 2_000 < 5e-4  # well under a millisecond


def test_continuous_outcome_plans_on_revenue(camp):
    meta = ScoresMeta(
        id_column="customer_id",
        arms=["none", "cashback", "fee_waiver"],
        control="none",
        outcome_kind="continuous",
    )
    revenue = camp.scores  # reuse the columns as revenue in hundreds
    for name in ("pred_none", "pred_cashback", "pred_fee_waiver"):
        revenue = revenue.set_column(
            revenue.column_names.index(name), name, pa.compute.multiply(revenue.column(name), 100.0)
        )
    eco = load_economics(
        {
            "margin_rate": 0.5,
            "offers": {
                "cashback": {"contact_cost": 1.0, "cost_rate": 0.05},
                "fee_waiver": {"contact_cost": 0.5, "cost_rate": 0.01},
            },
        }
    )
    plan = plan_campaign(revenue, meta, eco, budget=500.0, holdout=0.0)
    assert plan.summary.outcome_kind == "continuous"
    assert 0 < plan.summary.plan.spend <= 500.0 and plan.summary.plan.profit > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"budget": -1.0}, ConfigError, r"the budget must be ≥ 0, got -1"),
        (
            {"economics": {"offers": {"sms": {"contact_cost": 1}}}},
            DataError,
            r"offer 'sms' in the economics is not an offer of the scores; the scores have offers "
            r"'cashback', 'fee_waiver' \(control 'none'\)",
        ),
        (
            {"economics": {"control": "nothing", "offers": {"cashback": {"contact_cost": 1}}}},
            ConfigError,
            "economics control 'nothing' is not the scores' control 'none'",
        ),
        (
            {
                "policy": {"eligibility": {"rich": "income > 80"}},
                "customers": False,
                "value": 50.0,
                "value_col": None,
            },
            DataError,
            r"policy rule 'rich' \(eligibility\[0\]\) names column 'income', which is not in the "
            r"scores",
        ),
        (
            {"policy": {"contact_caps": [{"column": "calls_7d", "max": 2}]}},
            DataError,
            r"policy contact_caps\[0\] names column 'calls_7d'",
        ),
        (
            {"value": None, "value_col": None},
            UserInputError,
            "a binary outcome needs the value of a conversion",
        ),
        (
            {"value": 10.0},
            UserInputError,
            "give either the value of a conversion or a value column, not both",
        ),
        ({"value_col": "segment", "value": None}, DataError, "column 'segment' must be numeric"),
        ({"holdout": 1.0}, ConfigError, r"the holdout share must be in \[0, 1\), got 1.0"),
        (
            {
                "economics": {
                    **ECONOMICS,
                    "segments": {"column": "segment", "shares": {"vip": {"max": 0.5}}},
                }
            },
            ConfigError,
            "segments: 'vip' is not a value of column 'segment'",
        ),
        (
            {
                "economics": {
                    **ECONOMICS,
                    "segments": {
                        "column": "segment",
                        "shares": {
                            "priority": {"max": 0.2},
                            "mass": {"max": 0.3},
                            "young": {"max": 0.4},
                        },
                    },
                }
            },
            ConfigError,
            "maximum shares add up to 0.9 < 1",
        ),
    ],
    ids=[
        "negative-budget",
        "offer-not-in-scores",
        "control-mismatch",
        "rule-missing-column",
        "cap-missing-column",
        "no-value",
        "two-values",
        "value-not-numeric",
        "holdout-all",
        "unknown-segment",
        "caps-cannot-be-met",
    ],
)
def test_infeasible_or_contradictory_settings_are_clear_errors(camp, kwargs, error, message):
    args = {
        "budget": BUDGET,
        "value": None,
        "value_col": "clv",
        "customers": camp.customers,
        "policy": None,
        "economics": ECONOMICS,
        **kwargs,
    }
    economics = load_economics(args.pop("economics"))
    policy = args.pop("policy")
    if args.pop("customers") is False:
        args["customers"] = None
    else:
        args["customers"] = camp.customers
    with pytest.raises(error, match=message):
        plan_campaign(
            camp.scores,
            camp.meta,
            economics,
            policy=None if policy is None else load_policy(policy),
            **args,
        )
