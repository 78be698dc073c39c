from __future__ import annotations

import numpy as np
import pytest

from uplift_engine.decide import offer_figures
from uplift_engine.decide.planning import load_economics, load_policy
from uplift_engine.errors import ConfigError

BINARY_YAML = """
control: none
offers:
  cashback:   {contact_cost: 2.0, redemption_cost: 60.0, max_customers: 50000}
  fee_waiver: {contact_cost: 1.0, redemption_cost: 15.0, max_budget: 40000}
segments:
  column: segment
  shares:
    priority: {max: 0.3}
    young: {min: 0.2}
"""


def test_binary_economics_from_yaml_and_the_formulas(tmp_path):
    path = tmp_path / "economics.yaml"
    path.write_text(BINARY_YAML)
    eco = load_economics(path)
    assert eco.offers["cashback"].max_customers == 50000
    assert eco.segments is not None and eco.segments.shares["young"].min == 0.2
    assert eco.outcome_kind("binary") == "binary"
    p_k, p_0, v = np.array([0.3, 0.1]), np.array([0.2, 0.1]), np.array([100.0, 50.0])
    profit, cost = offer_figures(eco, "binary", "cashback", p_k, p_0, v)
    # cost = 2 + 60 p_k; profit = p_k (v - 60) - p_0 v - 2
    np.testing.assert_allclose(cost, [2 + 18, 2 + 6])
    np.testing.assert_allclose(profit, [0.3 * 40 - 20 - 2, 0.1 * -10 - 5 - 2])
    one = offer_figures(eco, "binary", "cashback", 0.3, 0.2, 100.0)
    assert one == pytest.approx((profit[0], cost[0]))  # the single-customer path agrees


def test_continuous_economics_formulas():
    eco = load_economics(
        {
            "outcome": "continuous",
            "margin_rate": 0.4,
            "offers": {"1": {"contact_cost": 1.5, "cost_rate": 0.05}},
        }
    )
    r_k, r_0 = np.array([200.0, -10.0]), np.array([150.0, 0.0])
    profit, cost = offer_figures(eco, "continuous", "1", r_k, r_0, None)
    np.testing.assert_allclose(cost, [1.5 + 10.0, 1.5])  # nothing given back on negative revenue
    np.testing.assert_allclose(profit, [0.4 * 50 - 10 - 1.5, 0.4 * -10 - 0 - 1.5])


def test_integral_offer_labels_become_arm_names():
    eco = load_economics(
        {"control": 0, "offers": {1: {"contact_cost": 1}, 2.0: {"contact_cost": 1}}}
    )
    assert list(eco.offers) == ["1", "2"] and eco.control == "0"


@pytest.mark.parametrize(
    ("data", "scores_kind", "message"),
    [
        ({"offers": {}}, None, r"offers: .*at least 1 item"),
        (
            {"offers": {"a": {"contact_cost": -1}}},
            None,
            r"offers\.a\.contact_cost: .*greater than or equal to 0, got -1",
        ),
        (
            {"offers": {"a": {"contact_cost": 1, "redemtion_cost": 5}}},
            None,
            r"offers\.a\.redemtion_cost: Extra inputs are not permitted",
        ),
        ({"offers": {"a": {"contact_cost": 1, "max_customers": -3}}}, None, r"max_customers"),
        (
            {"offers": {"a": {"contact_cost": 1, "cost_rate": 0.1}}},
            "binary",
            r"offers\.a\.cost_rate is for a continuous outcome",
        ),
        (
            {"offers": {"a": {"contact_cost": 1, "redemption_cost": 2}}},
            "continuous",
            r"redemption_cost is for a binary outcome",
        ),
        (
            {"outcome": "continuous", "offers": {"a": {"contact_cost": 1}}},
            None,
            "needs margin_rate",
        ),
        (
            {"outcome": "binary", "offers": {"a": {"contact_cost": 1}}},
            "continuous",
            "economics say outcome 'binary' but the scores are for a 'continuous' outcome",
        ),
        (
            {
                "offers": {"a": {"contact_cost": 1}},
                "segments": {"column": "s", "shares": {"x": {"min": 0.5, "max": 0.2}}},
            },
            None,
            "min share 0.5 is above max share 0.2",
        ),
    ],
    ids=[
        "no-offers",
        "negative-cost",
        "typo",
        "negative-cap",
        "rate-on-binary",
        "redemption-on-continuous",
        "no-margin",
        "kind-mismatch",
        "min-above-max",
    ],
)
def test_economics_errors(data, scores_kind, message):
    with pytest.raises(ConfigError, match=message):
        load_economics(data).outcome_kind(scores_kind)


def test_economics_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "eco.yaml"
    bad.write_text("offers: [unclosed")
    with pytest.raises(ConfigError, match=r"economics file '.*eco\.yaml' is not valid YAML/JSON"):
        load_economics(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping, got list"):
        load_economics(bad)


def test_policy_file_compiles_rules_and_points_at_the_faulty_one(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(
        '{"protected": "segment == \\"priority\\"", '
        '"eligibility": {"adults": "age >= 18", "rich": {"when": "income >", "offers": ["a"]}}}'
    )
    with pytest.raises(
        ConfigError, match=r"policy rule 'rich' \(eligibility\[1\]\): syntax error at position 9"
    ):
        load_policy(path)
    ok = load_policy(
        {
            "eligibility": [{"name": "adults", "when": "age >= 18", "offers": [1]}],
            "contact_caps": [{"column": "contacts_30d", "max": 3}],
        }
    )
    assert ok.columns() == {
        "age": "policy rule 'adults' (eligibility[0])",
        "contacts_30d": "policy contact_caps[0]",
    }
    with pytest.raises(ConfigError, match=r"policy adults: offer '1' is not in the economics"):
        ok.check_offers(["cashback"])
    with pytest.raises(ConfigError, match="name 'x' is used twice"):
        load_policy({"eligibility": [{"name": "x", "when": "true"}, {"name": "x", "when": "true"}]})
    with pytest.raises(
        ConfigError, match=r"policy: contact_caps\.0\.max: .*greater than or equal to 0"
    ):
        load_policy({"contact_caps": [{"column": "c", "max": -1}]})
