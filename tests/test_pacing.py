"""Real-time pacing: atomic holds on SQLite and Redis, and the price controller."""

from __future__ import annotations

import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401 (fixtures)
from uplift_engine.config.settings import RedisOnlineStore, SQLiteOnlineStore
from uplift_engine.decide.pacing import (
    BUDGET,
    EXPECTED,
    MICROS,
    PacingController,
    PacingSettings,
    customers_counter,
    money,
)
from uplift_engine.decide.planning import load_economics
from uplift_engine.errors import ConfigError
from uplift_engine.features import open_store

HOUR = 3_600_000_000
START = "2026-12-08T00:00:00+07:00"
END = "2026-12-09T00:00:00+07:00"
CAPS = {BUDGET: 5_000 * MICROS, customers_counter("cashback"): 120}


def _config(kind: str, where: str):
    if kind == "sqlite":
        return SQLiteOnlineStore(path=where)
    return RedisOnlineStore(url=where)


def _client(args: tuple[str, str, int, int]) -> list[tuple[str, str, int]]:
    """One client process: tries 150 holds of random amounts; what it was granted."""
    kind, where, seed, expires = args
    store = open_store(_config(kind, where))
    rng = random.Random(seed)
    granted = []
    try:
        for i in range(150):
            offer = rng.choice(["cashback", "fee_waiver"])
            amount = money(rng.uniform(5.0, 40.0))
            amounts = {BUDGET: amount, f"budget:{offer}": amount, customers_counter(offer): 1}
            hold = f"{seed}-{i}"
            refund = {BUDGET: amount // 2, f"budget:{offer}": amount // 2}
            failed = store.reserve("camp", hold, f"c{i}\x1f{offer}", amounts, refund, CAPS,
                                   expires + i)  # fmt: skip
            if failed is None:
                granted.append((hold, offer, amount))
            else:
                assert failed in CAPS
    finally:
        store.close()
    return granted


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_concurrent_clients_never_pass_a_cap(kind: str, tmp_path: Path, request) -> None:
    where = str(tmp_path / "online.sqlite") if kind == "sqlite" else request.getfixturevalue(
        "redis_url"
    )
    store = open_store(_config(kind, where))
    with ProcessPoolExecutor(4) as pool:
        results = list(pool.map(_client, [(kind, where, s, 10 * HOUR) for s in range(8)]))
    granted = [g for r in results for g in r]
    counters = store.counters("camp")
    # the caps bind (8 × 150 asks for far more), are never passed, and the counters are the
    # exact sums of the holds granted: nothing lost, nothing doubled
    assert counters[BUDGET] <= CAPS[BUDGET] and counters[customers_counter("cashback")] <= 120
    assert counters[BUDGET] == sum(a for *_, a in granted)
    assert CAPS[BUDGET] - counters[BUDGET] < money(40.0)  # full but for less than one hold
    assert counters[customers_counter("cashback")] == sum(o == "cashback" for _, o, _ in granted)
    # a retried hold is not counted twice
    hold, _, amount = granted[0]
    assert store.reserve("camp", hold, "x", {BUDGET: amount}, {}, CAPS, 0) is None
    assert store.counters("camp")[BUDGET] == counters[BUDGET]
    # a redemption keeps a hold; an expiry gives back its refundable half; both happen once
    assert store.settle("camp", hold, None, redeemed=True) is True
    assert store.settle("camp", hold, None, redeemed=False) is False
    assert store.counters("camp")[BUDGET] == counters[BUDGET]
    expired = store.expire("camp", 10 * HOUR + 150, limit=10_000)
    assert expired == len(granted) - 1
    after = store.counters("camp")
    assert after[BUDGET] == amount + sum(a - a // 2 for _, _, a in granted[1:])
    assert store.expire("camp", 20 * HOUR) == 0
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_an_accepted_offer_keeps_the_oldest_hold_of_its_customer(kind, tmp_path, request) -> None:
    where = str(tmp_path / "s.sqlite") if kind == "sqlite" else request.getfixturevalue("redis_url")
    store = open_store(_config(kind, where))
    tag = "42\x1fcashback"
    for hold, expires in (("b", 2 * HOUR), ("a", HOUR)):
        assert store.reserve("t", hold, tag, {BUDGET: 100}, {BUDGET: 60}, {}, expires) is None
    assert store.settle("t", None, tag, redeemed=True)  # a: the oldest
    assert store.expire("t", 3 * HOUR) == 1  # b gives back 60
    assert store.counters("t") == {BUDGET: 140}
    assert store.settle("t", None, tag, redeemed=True) is False
    store.close()


def _settings(**extra) -> PacingSettings:
    return PacingSettings(campaign="c", start=START, end=END, **extra)


def test_the_target_curve_follows_the_profile_and_bad_settings_name_the_field() -> None:
    flat = _settings()
    start = flat.start_us
    assert flat.share(start - HOUR) == 0 and flat.share(start + 6 * HOUR) == 0.25
    assert flat.share(start + 48 * HOUR) == 1
    morning = _settings(profile=[0] * 6 + [3] * 6 + [1] * 12)  # 18 + 12 = 30 weights
    assert morning.share(start + 6 * HOUR) == 0
    assert morning.share(start + 9 * HOUR) == pytest.approx(9 / 30)
    assert morning.share(start + 12 * HOUR) == pytest.approx(18 / 30)
    for extra, field in [
        ({"end": START}, "pacing.end"),
        ({"start": "2026-12-08T00:00:00"}, "pacing.start"),
        ({"profile": [0, 0]}, "pacing.profile"),
        ({"profile": [1, -1]}, "pacing.profile"),
        ({"offer_expiry": "0h"}, "pacing.offer_expiry"),
    ]:
        with pytest.raises(ConfigError) as info:
            pacing = {"campaign": "c", "start": START, "end": END, **extra}
            load_economics({"offers": {"a": {"contact_cost": 1, "redemption_cost": 2}},
                            "pacing": pacing})  # fmt: skip
        assert info.value.field is not None and field in info.value.message, info.value
    with pytest.raises(ConfigError, match="min_customers"):
        load_economics({"offers": {"a": {"contact_cost": 1, "redemption_cost": 2,
                                          "min_customers": 9, "max_customers": 3}},
                        "pacing": {"campaign": "c", "start": START, "end": END}})  # fmt: skip
    with pytest.raises(ConfigError, match="pacing section"):
        load_economics({"offers": {"a": {"contact_cost": 1, "redemption_cost": 2,
                                          "min_customers": 9}}})  # fmt: skip


def test_the_price_rises_when_spend_runs_ahead_and_falls_when_it_lags() -> None:
    economics = load_economics({
        "offers": {"cashback": {"contact_cost": 1, "redemption_cost": 20, "min_customers": 100},
                   "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5, "max_customers": 50}},
        "pacing": {"campaign": "c", "start": START, "end": END, "gain": 5}})  # fmt: skip
    assert economics.pacing is not None
    control = PacingController.of(economics.pacing, economics, 1_000.0, {"budget": 0.4})
    noon = economics.pacing.start_us + 12 * HOUR  # the target: half the budget spent
    on = control.pace({EXPECTED: 500 * MICROS}, noon)
    ahead = control.pace({EXPECTED: 600 * MICROS}, noon)
    behind = control.pace({EXPECTED: 400 * MICROS}, noon)
    assert on.cost_charge == [0.4, 0.4] and on.factor == 1
    # 100 ahead at noon: 400 left for half the day instead of 500 → λ · (4/5)^−5, and back
    assert ahead.factor == pytest.approx(0.8**-5) and behind.factor == pytest.approx(1.2**-5)
    assert ahead.cost_charge[0] == pytest.approx(0.4 * 0.8**-5)
    # at the end of the period a budget left over makes the price fall towards nothing
    late = control.pace({EXPECTED: 900 * MICROS}, economics.pacing.end_us - HOUR)
    assert late.factor == pytest.approx((0.1 / (1 / 24)) ** -5)  # 100 left for 1 h of 24
    # cashback's minimum: 50 customers due by noon, 30 reached → it comes first
    assert on.lagging == {"cashback"}
    assert control.pace({customers_counter("cashback"): 60}, noon).lagging == frozenset()
    assert control.caps == {BUDGET: 1_000 * MICROS, customers_counter("fee_waiver"): 50}
    hold = control.hold("cashback", 1.0, 21.0, 3.0)
    assert hold.amounts[BUDGET] == 21 * MICROS and hold.amounts[EXPECTED] == 3 * MICROS
    assert hold.refundable[BUDGET] == 20 * MICROS  # all but the contact cost comes back


def test_an_offer_behind_its_minimum_comes_first_where_it_earns_and_caps_that_cannot_be_met():
    from uplift_engine.decide import Decider
    from uplift_engine.decide.planning import plan_campaign
    from uplift_engine.decide.planning.synthetic import synthetic_campaign

    spec = {"offers": {"cashback": {"contact_cost": 1, "redemption_cost": 20},
                       "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5,
                                      "min_customers": 500}},
            "control": "none", "pacing": {"campaign": "c", "start": START, "end": END}}  # fmt: skip
    camp = synthetic_campaign(3_000, seed=4)
    plan = plan_campaign(camp.scores, camp.meta, load_economics(spec), budget=1_500.0,
                         value_col="clv", customers=camp.customers, holdout=0.0)  # fmt: skip
    decider = Decider.from_plan_meta(plan.meta)
    economics = decider.economics
    assert economics.pacing is not None
    control = PacingController.of(economics.pacing, economics, 1_500.0, decider.prices)
    noon = economics.pacing.start_us + 12 * HOUR
    behind = control.pace({EXPECTED: 750 * MICROS}, noon)  # 0 of 250 fee waivers by noon
    on = control.pace({EXPECTED: 750 * MICROS, customers_counter("fee_waiver"): 300}, noon)
    assert behind.lagging == {"fee_waiver"} and on.lagging == frozenset()
    rows = camp.scores.join(camp.customers, "customer_id").to_pylist()
    switched = 0
    for row in rows:
        plain, first = decider.assess(row, (), noon, on), decider.assess(row, (), noon, behind)
        fee = next(a for a in first.offers if a.offer == "fee_waiver")
        if fee.excluded_by is None and fee.net_value > 0:
            assert first.decision.offer == "fee_waiver" and first.ranking[0] == "fee_waiver"
            switched += plain.decision.offer != "fee_waiver"
        else:
            assert first.decision.offer == plain.decision.offer
    assert switched > 50  # customers who would have had cashback or nothing get the waiver
    with pytest.raises(ConfigError, match="cannot be met"):
        PacingController.of(economics.pacing, economics, 200.0, decider.prices)  # 500 × 0.5
    with pytest.raises(ConfigError, match="cannot be met"):
        load_economics({**spec, "offers": {"fee_waiver": {
            "contact_cost": 0.5, "redemption_cost": 5, "min_customers": 500, "max_budget": 100}}})


def test_an_accepted_response_sent_as_an_event_keeps_the_offers_hold(tmp_path: Path) -> None:
    from uplift_engine.decide import Decider
    from uplift_engine.decide.planning import plan_campaign
    from uplift_engine.decide.planning.synthetic import synthetic_campaign
    from uplift_engine.features import FeatureReader, default_registry
    from uplift_engine.features.streaming.schema import iso_utc
    from uplift_engine.serve.events import ingest_events
    from uplift_engine.serve.pacing import Pacer

    pacing = {"campaign": "ev", "start": START, "end": END}
    spec = {"offers": {"cashback": {"contact_cost": 1, "redemption_cost": 20}},
            "control": "none", "pacing": pacing}  # fmt: skip
    camp = synthetic_campaign(500, ("cashback",), seed=2)
    plan = plan_campaign(camp.scores, camp.meta, load_economics(spec), budget=300.0,
                         value_col="clv", customers=camp.customers, holdout=0.0)  # fmt: skip
    decider = Decider.from_plan_meta(plan.meta)
    store = open_store(SQLiteOnlineStore(path=str(tmp_path / "s.sqlite")))
    pacer = Pacer(decider, store)  # type: ignore[arg-type]
    at = decider.economics.pacing.start_us + HOUR  # type: ignore[union-attr]
    rows = camp.scores.join(camp.customers, "customer_id").to_pylist()
    held = []
    for row in rows:
        first = decider.assess(row, (), at, pacer.paced(at))
        if first.ranking:
            done = pacer.hold(first, str(row["customer_id"]), f"r{row['customer_id']}", at)
            if done.decision.offer:
                held.append(row["customer_id"])
        if len(held) == 2:
            break
    before = store.counters("ev")
    event = {"event_id": "x1", "customer_id": held[0], "type": "offer_response",
             "ts": iso_utc(at + 60_000_000), "offer": "cashback",
             "response": "accepted"}  # fmt: skip
    answer = ingest_events(FeatureReader(store, default_registry()), event, pacer=pacer)
    assert answer["accepted"] == 1
    # the offers expire: the redeemed one keeps its 21, the other gives back its 20
    assert pacer.sweep(at + 2 * HOUR) == 1
    after = store.counters("ev")
    assert before[BUDGET] - after[BUDGET] == 20 * MICROS
    store.close()
