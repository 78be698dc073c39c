from __future__ import annotations

import pyarrow as pa
import pytest

from uplift_engine.decide import row_guardrails
from uplift_engine.decide.planning import ColumnSource, Effects, apply_guardrails, load_policy
from uplift_engine.decide.planning.columns import match_ids, read_id_list
from uplift_engine.errors import ConfigError, DataError

OFFERS = ["a", "b"]


def scores_table() -> pa.Table:
    """Six customers whose intervals and flags exercise every guardrail."""
    return pa.table(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "uplift_a": [0.05, 0.05, -0.02, 0.10, 0.03, -0.01],
            "uplift_a_lower": [0.01, -0.01, -0.05, 0.02, -0.02, -0.04],
            "uplift_a_upper": [0.09, 0.11, -0.001, 0.18, 0.08, 0.02],
            "uplift_b": [0.02, 0.01, 0.03, -0.02, 0.04, -0.03],
            "segment": ["priority", "priority", "mass", "mass", "young", None],
        }
    )


def customers_table() -> pa.Table:
    return pa.table(
        {
            "customer_id": ["c6", "c5", "c4", "c3", "c2", "c1"],
            "age": [40, 17, 30, 45, 50, 60],
            "contacts_30d": [0, 1, 5, None, 0, 2],
        }
    )


POLICY = {
    "protected": 'segment == "priority"',
    "eligibility": [{"name": "adults", "when": "age >= 18", "offers": ["b"]}],
    "contact_caps": [{"column": "contacts_30d", "max": 4}],
}


def run(policy=POLICY, dnc=("c3",)):
    scores = scores_table()
    source = ColumnSource(scores, "customer_id", customers_table())
    compiled = load_policy(policy) if policy else None
    mask = match_ids(source.ids(), pa.array(list(dnc)))
    return (
        scores,
        apply_guardrails(OFFERS, Effects.from_scores(scores, OFFERS), source, compiled, mask),
        compiled,
    )


def test_every_guardrail_blocks_what_it_should_and_records_why():
    _, g, _ = run()
    assert g.allowed.T.tolist() == [
        [True, False],  # c1 priority: a's lower end > 0; b has no interval
        [False, False],  # c2 priority: a's interval crosses zero; b has no interval
        [False, False],  # c3 is on the do-not-contact list
        [False, False],  # c4 was contacted 5 times, the cap is 4
        [True, False],  # c5 is 17: b is for adults only
        [False, False],  # c6 has no segment: unknown protection counts as protected
    ]
    assert g.excluded_by.to_pylist() == [
        "",
        "protected",
        "dnc",
        "contact_cap:contacts_30d",
        "",
        "protected",
    ]
    assert g.customers_excluded == {
        "dnc": 1,
        "contact_cap:contacts_30d": 1,
        "protected": 2,
        "harm": 0,
        "eligibility:adults": 0,
    }
    # options are counted under the first guardrail that removed them
    assert g.options_blocked == {
        "dnc": 2,
        "contact_cap:contacts_30d": 2,
        "protected": 5,
        "harm": 0,
        "eligibility:adults": 1,
    }


def test_harm_removes_offers_wholly_below_zero_or_negative_without_interval():
    _, g, _ = run(policy=None, dnc=())
    # c3: a's upper end is below zero → harm; c4: b's point estimate < 0 without interval
    assert g.allowed[0, 2] == False and g.allowed[1, 2] == True  # noqa: E712
    assert g.allowed[1, 3] == False and g.allowed[0, 3] == True  # noqa: E712
    # c6: a's interval crosses zero → allowed; b is negative → harm
    assert g.allowed[:, 5].tolist() == [True, False]
    assert g.excluded_by.to_pylist() == [""] * 6


def test_row_guardrails_agree_with_the_vectorised_ones():
    scores, g, compiled = run()
    joined = ColumnSource(scores, "customer_id", customers_table())
    names = [*scores.column_names, "age", "contacts_30d"]
    cols = {n: joined.get(n).to_pylist() for n in names}
    for i in range(scores.num_rows):
        row = {n: cols[n][i] for n in names}
        allowed, reason = row_guardrails(OFFERS, row, compiled, {"c3"}, "customer_id")
        assert allowed == g.allowed[:, i].tolist(), i
        assert reason == g.excluded_by.to_pylist()[i], i


KINDS = {
    "eligibility": {"adults": {"when": "age >= 18", "offers": ["b"]}},
    "applicability": [{"name": "not_owned", "when": "contacts_30d < 5", "offers": ["a"]}],
    "suitability": {"not_young": 'segment != "young"'},
}


def test_each_exclusion_records_its_rule_kind_in_batch_and_one_by_one():
    """Eligibility, applicability and suitability rules, each exclusion named with its kind."""
    scores, g, compiled = run(policy=KINDS, dnc=())
    assert g.reasons == (
        "dnc", "protected", "harm", "eligibility:adults", "applicability:not_owned",
        "suitability:not_young",
    )  # fmt: skip
    # c4 has 5 contacts: not_owned removes a (b was removed by harm: its effect is < 0);
    # c5 is 17 and young: adults removes b first, then not_young removes a
    assert g.excluded_by.to_pylist()[3] == "harm;applicability:not_owned"
    assert g.excluded_by.to_pylist()[4] == "eligibility:adults;suitability:not_young"
    # c6 has no segment: an unknown answer counts as the rule not holding
    assert g.excluded_by.to_pylist()[5] == "harm;suitability:not_young"
    assert g.customers_excluded["suitability:not_young"] == 2
    joined = ColumnSource(scores, "customer_id", customers_table())
    names = [*scores.column_names, "age", "contacts_30d"]
    cols = {n: joined.get(n).to_pylist() for n in names}
    for i in range(scores.num_rows):
        allowed, reason = row_guardrails(OFFERS, {n: cols[n][i] for n in names}, compiled)
        assert (allowed, reason) == (g.allowed[:, i].tolist(), g.excluded_by.to_pylist()[i])


def test_a_rule_name_used_by_two_kinds_is_refused_naming_both():
    twice = {"eligibility": {"adults": "age >= 18"}, "suitability": {"adults": "age < 90"}}
    with pytest.raises(ConfigError, match=r"'adults' is used twice \(eligibility\[0\] and "
                       r"suitability\[0\]\)") as caught:  # fmt: skip
        load_policy(twice)
    assert caught.value.field == "suitability[0].name"


def test_rule_naming_a_missing_column_is_an_error():
    scores = scores_table()
    source = ColumnSource(scores, "customer_id")
    needed = load_policy({"eligibility": {"rich": "income > 100"}}).columns()
    with pytest.raises(
        DataError,
        match=r"policy rule 'rich' \(eligibility\[0\]\) names column "
        r"'income', which is not in the scores \(join a customers table on the id",
    ):
        source.require(needed)
    with_customers = ColumnSource(scores, "customer_id", customers_table())
    with pytest.raises(DataError, match="not in the scores or the customers table"):
        with_customers.require(needed)


def test_customers_join_on_the_id_whatever_its_type_and_refuse_repeats():
    scores = pa.table({"id": pa.array([3, 1, 2])})
    customers = pa.table({"id": ["1", "2", "3", "9"], "age": [10, 20, 30, 90]})
    assert ColumnSource(scores, "id", customers).get("age").to_pylist() == [30, 10, 20]
    repeated = pa.table({"id": [1, 1], "age": [1, 2]})
    with pytest.raises(DataError, match="repeats ids in column 'id'"):
        ColumnSource(scores, "id", repeated).get("age")
    with pytest.raises(DataError, match="has no id column 'id'"):
        ColumnSource(scores, "id", pa.table({"x": [1]}))


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".parquet"], ids=["csv", "txt", "parquet"])
def test_dnc_lists_are_read_from_tables_or_text(tmp_path, suffix):
    path = tmp_path / f"dnc{suffix}"
    if suffix == ".txt":
        path.write_text("1007\n\n1021\n")
    else:
        from uplift_engine.lake import write_table

        write_table(pa.table({"other": [0, 0], "customer_id": [1007, 1021]}), path)
    ids = read_id_list(path, "customer_id")
    assert match_ids(pa.array([1000, 1007, 1014, 1021]), ids).tolist() == [False, True, False, True]
