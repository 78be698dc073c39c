"""The simulated bank: schemas, determinism, and realised outcomes that match the truth."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakefiles import untag
from uplift_engine.errors import ConfigError, UserInputError
from uplift_engine.lake import layout, read_table
from uplift_engine.simulate import (
    BUILTIN_PROFILES,
    CUSTOMER_TYPES,
    CampaignSpec,
    SimulationConfig,
    classify,
    load_simulation_config,
    simulate_bank,
)
from uplift_engine.simulate.config import DEFAULT_HISTORY_END, epoch_us
from uplift_engine.simulate.population import Population, draw_traits
from uplift_engine.simulate.response import calibrate, expected_response, true_response

N = 20_000
BLOCK = 5_000
Z = 4.0  # tolerance in standard errors
CONFIG = SimulationConfig(customers=N, block_size=BLOCK, seed=7)
CAMPAIGN = CONFIG.campaigns[0]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bank") / "lake"
    simulate_bank(CONFIG, str(root), workers=1)
    return root


@pytest.fixture(scope="module")
def data(lake: Path) -> dict[str, pa.Table]:
    names = {
        "customers": layout.CUSTOMERS,
        "events": layout.EVENTS,
        "campaigns": layout.CAMPAIGNS,
        "assignments": layout.ASSIGNMENTS,
        "outcomes": layout.OUTCOMES,
        "truth": layout.TRUTH,
    }
    return {k: read_table(lake / v) for k, v in names.items()}


@pytest.fixture(scope="module")
def campaign(data: dict[str, pa.Table]) -> dict[str, np.ndarray]:
    """Assignment, outcome and truth of the one campaign, aligned by customer (ids 1..N)."""
    a, o, t = data["assignments"], data["outcomes"], data["truth"]
    for table in (a, o, t):
        assert table["customer_id"].to_numpy().tolist() == list(range(1, N + 1))
    cols = {
        "arm": _codes(a["arm"], CAMPAIGN.arm_names),
        "assigned_at": a["assigned_at"].cast(pa.int64()).to_numpy(),
        "converted": o["converted"].to_numpy(),
        "revenue": o["revenue"].to_numpy(),
    }
    for arm in CAMPAIGN.arm_names:
        cols[f"p_{arm}"] = t[layout.truth_column("converted", arm)].to_numpy()
        cols[f"rev_{arm}"] = t[layout.truth_column("revenue", arm)].to_numpy()
        cols[f"e_{arm}"] = t[layout.expected_column("converted", arm)].to_numpy()
    for offer in CAMPAIGN.offer_names:
        cols[f"type_{offer}"] = _codes(t[layout.customer_type_column(offer)], CUSTOMER_TYPES)
    return cols


def _codes(column: pa.ChunkedArray, labels: list[str] | tuple[str, ...]) -> np.ndarray:
    codes = pc.index_in(column, value_set=pa.array(list(labels))).to_numpy(zero_copy_only=False)
    assert not np.isnan(codes.astype(float)).any(), "unexpected label"
    return codes.astype(np.int64)


def _digest(root: Path) -> dict[str, str]:
    """Every committed part file (its name without the generation tag) and its SHA-256."""
    return {
        untag(str(p.relative_to(root))): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }



# --- determinism and layout -------------------------------------------------------------------


def test_bytes_do_not_depend_on_chunk_size_or_workers(lake: Path, tmp_path: Path) -> None:
    other = tmp_path / "lake"
    simulate_bank(CONFIG, str(other), chunk_size=3 * BLOCK, workers=2)
    expected = _digest(lake)
    assert len(expected) == 5 * CONFIG.blocks + 1
    assert _digest(other) == expected


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    small = SimulationConfig(customers=1_000, block_size=500, seed=1)
    simulate_bank(small, str(tmp_path / "a"), workers=1)
    simulate_bank(small.model_copy(update={"seed": 2}), str(tmp_path / "b"), workers=1)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if "campaigns/" not in k)


@pytest.mark.parametrize(
    ("dataset", "schema"),
    [
        (layout.CUSTOMERS, layout.CUSTOMERS_SCHEMA),
        (layout.EVENTS, layout.EVENTS_SCHEMA),
        (layout.CAMPAIGNS, layout.CAMPAIGNS_SCHEMA),
        (layout.ASSIGNMENTS, layout.ASSIGNMENTS_SCHEMA),
        (layout.OUTCOMES, layout.OUTCOMES_SCHEMA),
    ],
    ids=["customers", "events", "campaigns", "assignments", "outcomes"],
)
def test_raw_datasets_have_the_layout_schema(lake: Path, dataset: str, schema: pa.Schema) -> None:
    assert read_table(lake / dataset).schema.equals(schema)


def test_part_files_are_numbered_by_block(lake: Path) -> None:
    names = sorted(untag(p.name) for p in (lake / layout.EVENTS).iterdir())
    assert names == [layout.part_name(b) for b in range(N // BLOCK)]
    campaigns = sorted(untag(p.name) for p in (lake / layout.CAMPAIGNS).iterdir())
    assert campaigns == [layout.part_name(0)]


def test_truth_columns_follow_the_layout_names(data: dict[str, pa.Table]) -> None:
    expected = ["campaign_id", "customer_id"]
    expected += [layout.truth_column("converted", a) for a in CAMPAIGN.arm_names]
    expected += [layout.truth_column("revenue", a) for a in CAMPAIGN.arm_names]
    expected += [layout.customer_type_column(o) for o in CAMPAIGN.offer_names]
    expected += [layout.expected_column("converted", a) for a in CAMPAIGN.arm_names]
    expected += [layout.expected_column("revenue", a) for a in CAMPAIGN.arm_names]
    assert data["truth"].column_names == expected
    assert set(data["truth"]["campaign_id"].to_pylist()) == {"c2026q4"}


def test_campaigns_dataset_lists_arms_and_shares(data: dict[str, pa.Table]) -> None:
    rows = data["campaigns"].to_pylist()
    assert {r["arm"]: r["share"] for r in rows} == CAMPAIGN.arms
    assert [r["arm"] for r in rows if r["is_control"]] == ["control"]
    assert {r["starts_at"].isoformat() for r in rows} == {"2026-09-28T00:00:00+00:00"}
    assert {r["outcome_days"] for r in rows} == {14}


def test_rerun_replaces_the_datasets_whole(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    simulate_bank(SimulationConfig(customers=2_000, block_size=500), str(root), workers=1)
    (root / "curated").mkdir()
    simulate_bank(SimulationConfig(customers=600, block_size=500), str(root), workers=1)
    assert len(list((root / layout.EVENTS).iterdir())) == 2
    assert read_table(root / layout.CUSTOMERS).num_rows == 600
    assert (root / "curated").is_dir()
    assert not [p for p in (root / "raw").iterdir() if p.name.startswith(".")]


# --- customers and events ---------------------------------------------------------------------


def test_customers_look_like_a_vietnamese_retail_bank(data: dict[str, pa.Table]) -> None:
    c = data["customers"]
    assert c["customer_id"].to_pylist() == list(range(1, N + 1))
    age = c["age"].to_numpy()
    assert age.min() >= 18 and age.max() <= 80
    segment = c["segment"].to_numpy(zero_copy_only=False)
    for name, share in CONFIG.segment_shares.model_dump().items():
        assert abs(np.mean(segment == name) - share) < Z * np.sqrt(share * (1 - share) / N)
    income = c["income_m_vnd"].to_numpy()
    assert np.median(income[segment == "priority"]) > 2 * np.median(income[segment == "mass"])
    assert set(c["region"].to_pylist()) == set(CONFIG.region_shares)
    assert set(c["preferred_channel"].to_pylist()) == {"app", "web", "branch", "contact_center"}
    assert 0.3 < np.mean(c["biometric_enrolled"].to_numpy()) < 0.8
    tenure = c["tenure_months"].to_numpy()
    assert (tenure >= 0).all() and (tenure <= (age - 18) * 12).all()


def test_events_lie_in_the_history_window(data: dict[str, pa.Table]) -> None:
    e = data["events"]
    ts = e["ts"].cast(pa.int64()).to_numpy()
    assert ts.min() >= epoch_us(CONFIG.history_start)
    assert ts.max() < epoch_us(DEFAULT_HISTORY_END)
    assert 20 * N < e.num_rows < 80 * N  # tens of millions for a million customers
    ids = e["event_id"].to_numpy()
    assert len(np.unique(ids)) == len(ids)
    customer = e["customer_id"].to_numpy()
    same = np.diff(customer) == 0
    assert (np.diff(customer) >= 0).all() and (np.diff(ts)[same] >= 0).all(), "(customer, ts) order"
    assert set(e["type"].to_pylist()) == set(layout.EVENT_TYPES)


def test_only_money_events_carry_positive_amounts(data: dict[str, pa.Table]) -> None:
    e = data["events"]
    money = pc.is_in(e["type"], value_set=pa.array(["transfer", "card_txn"])).to_numpy()
    valid = e["amount"].is_valid().to_numpy()
    assert (money == valid).all()
    assert (e["amount"].drop_null().to_numpy() >= 1).all()


def test_events_come_from_the_customers_table(data: dict[str, pa.Table]) -> None:
    ids = np.unique(data["events"]["customer_id"].to_numpy())
    assert ids.min() >= 1 and ids.max() <= N and len(ids) > 0.95 * N


# --- campaign assignment ---------------------------------------------------------------------


def test_arm_shares_match_the_config(campaign: dict[str, np.ndarray]) -> None:
    for i, (arm, share) in enumerate(CAMPAIGN.arms.items()):
        observed = np.mean(campaign["arm"] == i)
        assert abs(observed - share) < Z * np.sqrt(share * (1 - share) / N), arm


@pytest.mark.parametrize("attribute", ["age", "income_m_vnd", "tenure_months", "products_held"])
def test_arm_is_independent_of_customer_attributes(
    data: dict[str, pa.Table], campaign: dict[str, np.ndarray], attribute: str
) -> None:
    x = data["customers"][attribute].to_numpy().astype(float)
    for i, arm in enumerate(CAMPAIGN.arm_names):
        inside, outside = x[campaign["arm"] == i], x[campaign["arm"] != i]
        se = np.sqrt(inside.var() / inside.size + outside.var() / outside.size)
        assert abs(inside.mean() - outside.mean()) < Z * se, arm


def test_assignments_fall_in_the_last_days_and_some_events_follow(
    data: dict[str, pa.Table], campaign: dict[str, np.ndarray]
) -> None:
    end = epoch_us(DEFAULT_HISTORY_END)
    day = 86_400 * 1_000_000
    assigned = campaign["assigned_at"]
    assert assigned.min() >= end - CAMPAIGN.assignment_days * day and assigned.max() < end
    e = data["events"]
    after = e["ts"].cast(pa.int64()).to_numpy() >= assigned[e["customer_id"].to_numpy() - 1]
    assert 0.01 < after.mean() < 0.1


# --- outcomes against the truth ----------------------------------------------------------------


def test_realised_conversion_per_arm_matches_the_truth(campaign: dict[str, np.ndarray]) -> None:
    for i, arm in enumerate(CAMPAIGN.arm_names):
        rows = campaign["arm"] == i
        p = campaign[f"p_{arm}"][rows]
        se = np.sqrt(np.sum(p * (1 - p))) / rows.sum()
        assert abs(campaign["converted"][rows].mean() - p.mean()) < Z * se, arm


@pytest.mark.parametrize("offer", CAMPAIGN.offer_names)
def test_realised_conversion_per_type_matches_the_truth(
    campaign: dict[str, np.ndarray], offer: str
) -> None:
    for arm in (offer, CAMPAIGN.control):
        for k, kind in enumerate(CUSTOMER_TYPES):
            rows = (campaign["arm"] == CAMPAIGN.arm_names.index(arm)) & (
                campaign[f"type_{offer}"] == k
            )
            assert rows.sum() > 100, (arm, kind)
            p = campaign[f"p_{arm}"][rows]
            se = np.sqrt(np.sum(p * (1 - p))) / rows.sum()
            observed = campaign["converted"][rows].mean()
            assert abs(observed - p.mean()) < Z * se + 1e-9, (arm, kind)


@pytest.mark.parametrize("offer", CAMPAIGN.offer_names)
def test_type_shares_match_the_config(campaign: dict[str, np.ndarray], offer: str) -> None:
    for k, kind in enumerate(CUSTOMER_TYPES):
        share = getattr(CAMPAIGN.type_shares, kind)
        observed = np.mean(campaign[f"type_{offer}"] == k)
        assert abs(observed - share) < Z * np.sqrt(share * (1 - share) / N) + 0.005, kind


@pytest.mark.parametrize("offer", CAMPAIGN.offer_names)
def test_types_follow_the_documented_thresholds(
    campaign: dict[str, np.ndarray], offer: str
) -> None:
    p_c, p_o, kind = campaign["p_control"], campaign[f"p_{offer}"], campaign[f"type_{offer}"]
    delta, theta = CAMPAIGN.effect_threshold, CAMPAIGN.sure_thing_threshold
    assert (p_o[kind == 0] - p_c[kind == 0] >= delta).all()
    assert (p_o[kind == 3] - p_c[kind == 3] <= -delta).all()
    assert (p_c[kind == 1] >= theta).all() and (p_c[kind == 2] < theta).all()
    sleeping = kind == 3
    offered = campaign["arm"] == CAMPAIGN.arm_names.index(offer)
    control = campaign["arm"] == 0
    converted = campaign["converted"]
    assert converted[sleeping & offered].mean() < converted[sleeping & control].mean()


def test_base_conversion_and_effects_have_a_realistic_size(campaign: dict[str, np.ndarray]) -> None:
    base = campaign["p_control"].mean()
    assert 0.02 < base < 0.08
    for offer in CAMPAIGN.offer_names:
        assert 0.005 < (campaign[f"p_{offer}"] - campaign["p_control"]).mean() < 0.04, offer


def test_revenue_only_for_converters(campaign: dict[str, np.ndarray]) -> None:
    converted = campaign["converted"] == 1
    assert (campaign["revenue"][~converted] == 0).all()
    assert (campaign["revenue"][converted] > 0).all()


def test_mean_revenue_per_arm_matches_the_truth(campaign: dict[str, np.ndarray]) -> None:
    for i, arm in enumerate(CAMPAIGN.arm_names):
        rows = campaign["arm"] == i
        revenue = campaign["revenue"][rows]
        se = revenue.std() / np.sqrt(rows.sum())
        assert abs(revenue.mean() - campaign[f"rev_{arm}"][rows].mean()) < Z * se, arm
        ratio = campaign[f"rev_{arm}"] / campaign[f"p_{arm}"]  # mean revenue of a converter
        assert (ratio > 0).all()


def _counts_before_assignment(
    data: dict[str, pa.Table], assigned: np.ndarray, kind: str
) -> np.ndarray:
    e = data["events"]
    customer = e["customer_id"].to_numpy()
    before = e["ts"].cast(pa.int64()).to_numpy() < assigned[customer - 1]
    chosen = pc.equal(e["type"], kind).to_numpy(zero_copy_only=False) & before
    return np.bincount(customer[chosen], minlength=N + 1)[1:]


@pytest.mark.parametrize(
    ("offer", "behaviour"),
    [("cashback", "card_txn"), ("fee_waiver", "transfer"), ("bonus_points", "login")],
    ids=["cashback-by-card", "fee_waiver-by-transfers", "bonus_points-by-logins"],
)
def test_behaviour_before_assignment_predicts_the_offer_effect(
    data: dict[str, pa.Table], campaign: dict[str, np.ndarray], offer: str, behaviour: str
) -> None:
    counts = _counts_before_assignment(data, campaign["assigned_at"], behaviour)
    effect = campaign[f"p_{offer}"] - campaign["p_control"]
    low, high = np.quantile(counts, [0.25, 0.75])
    gap = effect[counts >= high].mean() - effect[counts <= low].mean()
    assert gap > 0.02
    others = [o for o in CAMPAIGN.offer_names if o != offer]
    for other in others:  # heterogeneous per offer: this behaviour matters most for this offer
        other_effect = campaign[f"p_{other}"] - campaign["p_control"]
        assert gap > other_effect[counts >= high].mean() - other_effect[counts <= low].mean()


# --- summary, progress, several campaigns, custom shares --------------------------------------


def test_summary_reports_rows_and_realised_outcomes(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    config = SimulationConfig(customers=3_000, block_size=1_000)
    summary = simulate_bank(
        config, str(tmp_path / "l"), workers=1, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(1_000, 3_000), (2_000, 3_000), (3_000, 3_000)]
    assert summary.rows[layout.CUSTOMERS] == 3_000
    assert summary.rows[layout.EVENTS] == read_table(tmp_path / "l" / layout.EVENTS).num_rows
    arms = summary.campaigns[0].arms
    assert sum(a.customers for a in arms.values()) == 3_000
    outcomes = read_table(tmp_path / "l" / layout.OUTCOMES)
    assert sum(a.conversions for a in arms.values()) == pc.sum(outcomes["converted"]).as_py()
    json.dumps(summary.to_dict())  # JSON-ready for the CLI


def test_several_campaigns_share_one_truth_dataset(tmp_path: Path) -> None:
    config = SimulationConfig(
        customers=2_000,
        block_size=1_000,
        campaigns=[
            CampaignSpec(campaign_id="a"),
            CampaignSpec(
                campaign_id="b",
                arms={"holdout": 0.5, "loan_rate": 0.5},
                control="holdout",
                audience_share=0.5,
            ),
        ],
    )
    summary = simulate_bank(config, str(tmp_path / "l"), workers=1)
    truth = read_table(tmp_path / "l" / layout.TRUTH)
    in_b = pc.equal(truth["campaign_id"], "b")
    assert 800 < pc.sum(in_b).as_py() < 1_200
    b = truth.filter(in_b)
    assert b["true_converted_cashback"].null_count == b.num_rows
    assert b["type_loan_rate"].null_count == 0
    assert truth.filter(pc.invert(in_b))["true_converted_holdout"].null_count == 2_000
    assert summary.rows[layout.ASSIGNMENTS] == truth.num_rows
    assert [c.campaign_id for c in summary.campaigns] == ["a", "b"]


def test_type_shares_can_be_set(tmp_path: Path) -> None:
    shares = {"persuadable": 0.4, "sure_thing": 0.05, "lost_cause": 0.3, "sleeping_dog": 0.25}
    config = SimulationConfig(
        customers=N, block_size=BLOCK, campaigns=[CampaignSpec(campaign_id="x", type_shares=shares)]
    )
    summary = simulate_bank(config, str(tmp_path / "l"), workers=1)
    for offer, realised in summary.campaigns[0].type_shares.items():
        for kind, share in shares.items():
            assert abs(realised[kind] - share) < Z * np.sqrt(share * (1 - share) / N) + 0.005, (
                offer,
                kind,
            )


def test_expected_response_is_the_truth_averaged_over_the_draws() -> None:
    """Customers sharing their traits: the mean of their true values is the closed form."""
    config = SimulationConfig(customers=1_000, seed=11)
    campaign = config.campaigns[0]
    calibration = calibrate(config)[campaign.campaign_id]
    distinct, reps = 6, 60_000
    traits = draw_traits(np.random.default_rng(3), distinct)
    rows = np.repeat(np.arange(distinct), reps)
    shared = type(traits)(**{f.name: getattr(traits, f.name)[rows] for f in fields(traits)})
    n = rows.size
    zeros = np.zeros(n, dtype=np.int64)
    population = Population(
        customer_id=np.arange(n), traits=shared, age=zeros, income_m_vnd=np.full(n, 20.0),
        tenure_months=zeros, segment=zeros, region=zeros, preferred_channel=zeros,
        products_held=zeros, balance_m_vnd=np.zeros(n), biometric_enrolled=zeros.astype(bool),
    )  # fmt: skip
    truth = true_response(config, 0, campaign, calibration, population)
    expected = expected_response(campaign, calibration, population)
    for arm in campaign.arm_names:
        p = truth.converted[arm].reshape(distinct, reps)
        closed = expected[arm].reshape(distinct, reps)
        assert np.ptp(closed, axis=1).max() == 0.0
        se = p.std(axis=1) / np.sqrt(reps)
        assert np.abs(p.mean(axis=1) - closed[:, 0]).max() < Z * se.max(), arm
    effects = [expected[o] - expected[campaign.control] for o in campaign.offer_names]
    assert min(np.ptp(e) for e in effects) > 0.02  # the conditional effect varies with traits


def test_expected_columns_are_the_truth_given_the_traits(campaign: dict[str, np.ndarray]) -> None:
    """Same mean as the truth by decile of the expected effect (they differ only by noise)."""
    for offer in CAMPAIGN.offer_names:
        true_effect = campaign[f"p_{offer}"] - campaign["p_control"]
        expected = campaign[f"e_{offer}"] - campaign["e_control"]
        deciles = np.searchsorted(np.quantile(expected, np.linspace(0, 1, 11)[1:-1]), expected)
        for d in range(10):
            chosen = deciles == d
            se = true_effect[chosen].std() / np.sqrt(chosen.sum())
            gap = true_effect[chosen].mean() - expected[chosen].mean()
            assert abs(gap) < Z * se, (offer, d)
        assert np.corrcoef(true_effect, expected)[0, 1] > 0.3


def test_classify_applies_the_thresholds() -> None:
    p_control = np.array([0.01, 0.01, 0.20, 0.20, 0.049, 0.05])
    p_offer = np.array([0.04, 0.02, 0.19, 0.15, 0.05, 0.06])
    codes = classify(p_control, p_offer, delta=0.02, theta=0.05)
    assert [CUSTOMER_TYPES[c] for c in codes] == [
        "persuadable",
        "lost_cause",
        "sure_thing",
        "sleeping_dog",
        "lost_cause",
        "sure_thing",
    ]


# --- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"customers": -5}, "customers"),
        ({"customers": 10, "campaigns": [{"campaign_id": "c", "arms": {"control": 0.5, "x": 0.4}}]},
         "campaigns.0.arms"),
        ({"customers": 10, "campaigns": [{"campaign_id": "c", "control": "holdout"}]},
         "campaigns.0.control"),
        ({"customers": 10, "campaigns": [{"campaign_id": "c", "type_shares": {"lost_cause": 1}}]},
         "campaigns.0.type_shares"),
        ({"customers": 10, "segment_shares": {"mass": 0.9}}, "segment_shares"),
        ({"customers": 10, "history_days": 2}, "campaigns"),
        ({"customers": 10, "campaigns": [{"campaign_id": "c", "arms": {"control": 1.0}}]},
         "campaigns.0.arms"),
        ({"customers": 10, "campaigns": [{"campaign_id": "c", "effect_threshold": 0.1}]},
         "campaigns.0.sure_thing_threshold"),
        ({"customers": 10, "custmers": 5}, "custmers"),
    ],
    ids=[
        "negative-customers",
        "arm-shares-not-one",
        "control-not-an-arm",
        "type-shares-not-one",
        "segment-shares-not-one",
        "assignment-longer-than-history",
        "single-arm",
        "thresholds-crossed",
        "unknown-field",
    ],
)  # fmt: skip
def test_bad_config_raises_config_error_naming_the_field(data: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"simulation config: {re.escape(field)}: ") as info:
        SimulationConfig(**data)
    assert info.value.field == field


def test_control_error_lists_the_arms() -> None:
    with pytest.raises(
        ConfigError, match="control 'holdout' is not among the arms: 'bonus_points'"
    ):
        CampaignSpec(campaign_id="c", control="holdout")


def test_load_simulation_config_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(
        "customers: 1000\n"
        "seed: 3\n"
        "history_end: 2026-06-01T00:00:00Z\n"
        "campaigns:\n"
        "  - campaign_id: summer\n"
        "    arms: {control: 0.5, cashback: 0.5}\n"
        "    type_shares: {persuadable: 0.3, sure_thing: 0.1, lost_cause: 0.5, sleeping_dog: 0.1}\n"
    )
    config = load_simulation_config(path, customers=2_000)
    assert config.customers == 2_000 and config.seed == 3
    assert config.history_end.isoformat() == "2026-06-01T00:00:00+00:00"
    assert config.campaigns[0].type_shares.persuadable == 0.3


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("customers: [1, 2\n", "not valid YAML"),
        ("- 1\n- 2\n", "must hold a mapping"),
        ("customers: 10\ncampaigns: [{campaign_id: c, control: ctl}]\n", "campaigns.0.control"),
    ],
    ids=["bad-yaml", "not-a-mapping", "bad-field"],
)
def test_load_simulation_config_rejects_bad_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_simulation_config(path)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read simulation config"):
        load_simulation_config(tmp_path / "nope.yaml")


def test_bad_run_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="workers must be at least 1, got 0"):
        simulate_bank(SimulationConfig(customers=10), str(tmp_path), workers=0)


def test_the_yaml_example_in_the_docs_is_a_valid_config(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "docs" / "simulator.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "bank.yaml"
    path.write_text(example)
    config = load_simulation_config(path)
    assert config.customers == 1_000_000
    # the example spells out the defaults, and the built-in cashback profile
    campaign = config.campaigns[0]
    assert campaign.offers == {"cashback": BUILTIN_PROFILES["cashback"]}
    plain = config.model_copy(update={"campaigns": [campaign.model_copy(update={"offers": {}})]})
    assert plain == SimulationConfig(customers=1_000_000)
