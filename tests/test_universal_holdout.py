"""The universal holdout: chosen by id and salt, the same in every plan and in real time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from uplift_engine.decide import Decider
from uplift_engine.decide.planning import load_economics, load_policy, plan_campaign
from uplift_engine.decide.planning.synthetic import synthetic_campaign
from uplift_engine.decide.universal_holdout import UniversalHoldout
from uplift_engine.errors import ConfigError

ECONOMICS = {
    "control": "none",
    "offers": {
        "cashback": {"contact_cost": 1.0, "redemption_cost": 20.0},
        "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5.0},
    },
}
HELD = {"share": 0.05, "salt": "programme-2026"}


def test_the_group_has_its_share_and_a_new_salt_draws_a_new_one() -> None:
    n = 100_000
    group = {i for i in range(n) if UniversalHoldout(**HELD).holds(i)}
    assert abs(len(group) - 0.05 * n) < 4 * (n * 0.05 * 0.95) ** 0.5  # within 4 sd
    other = {i for i in range(n) if UniversalHoldout(0.05, "programme-2027").holds(i)}
    assert abs(len(group & other) - 0.0025 * n) < 4 * (n * 0.0025) ** 0.5  # independent draws
    # one customer whatever the id's type: the online store's key
    same = UniversalHoldout(**HELD)
    assert [same.holds(42), same.holds("42"), same.holds("0042"), same.holds(42.0)] == [
        same.holds(42)
    ] * 4


def test_every_plan_holds_out_the_same_customers_and_the_service_agrees() -> None:
    camp = synthetic_campaign(6_000, seed=3)
    policy = load_policy({"universal_holdout": HELD})
    economics = load_economics(ECONOMICS)
    first = plan_campaign(
        camp.scores, camp.meta, economics, budget=4_000.0, value_col="clv",
        customers=camp.customers, policy=policy, seed=1,
    )  # fmt: skip
    # another campaign on a shuffled half of the same customers, another budget and seed
    half = camp.scores.take(pa.array(list(range(5_999, 0, -2))))
    second = plan_campaign(half, camp.meta, economics, budget=900.0, value_col="clv",
                           customers=camp.customers, policy=policy, seed=7)  # fmt: skip

    def held_out(plan) -> set[object]:
        ids = plan.table.column("customer_id").to_pylist()
        why = plan.table.column("excluded_by").to_pylist()
        return {i for i, w in zip(ids, why, strict=True) if w == "holdout:universal"}

    a, b = held_out(first), held_out(second)
    assert 200 < len(a) < 400 and b == a & set(half.column("customer_id").to_pylist())
    t = first.table
    offered = {i for i, o in zip(t.column("customer_id").to_pylist(),
                                 t.column("offer").to_pylist(), strict=True) if o}  # fmt: skip
    assert offered and not a & offered
    assert first.meta["guardrails"]["customers_excluded"]["holdout:universal"] == len(a)
    # the service, from the plan's metadata, one customer at a time: the same exclusions
    decider = Decider.from_plan_meta(first.meta)
    rows = camp.scores.join(camp.customers, "customer_id").to_pylist()
    for row in rows[:600]:
        d = decider.decide(row)
        assert (d.excluded_by == "holdout:universal") == (row["customer_id"] in a)
        if row["customer_id"] in a:
            assert d.offer == ""


def test_an_ended_holdout_holds_no_one() -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    ended = load_policy({"universal_holdout": {**HELD, "until": yesterday}})
    assert ended.universal is None
    assert UniversalHoldout(**HELD, until=yesterday).last_day == date.fromisoformat(yesterday)
    running = load_policy({"universal_holdout": {**HELD, "until": "2999-12-31"}})
    assert running.universal is not None


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"share": 0.0, "salt": "x"}, "share"),
        ({"share": 0.7, "salt": "x"}, "share"),
        ({"share": 0.05, "salt": ""}, "salt"),
        ({"share": 0.05, "salt": "x", "until": "next june"}, "until"),
        ({"share": 0.05, "salt": "x", "size": 3}, "size"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(settings: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_policy({"universal_holdout": settings})
