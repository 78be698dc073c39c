"""Arms, column roles and encoding of any campaign table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from uplift_engine.errors import DataError
from uplift_engine.learn.data import assign_roles, discover_arms, encode_campaign, fit_encoder


def _table(n=200, seed=0, **extra):
    rng = np.random.default_rng(seed)
    cols = {
        "segment": pa.array(rng.choice(["Mens E-Mail", "Womens E-Mail", "No E-Mail"], n)),
        "spend": pa.array(rng.gamma(2, 50, n)),
        "channel": pa.array(rng.choice(["web", "phone", None], n)),
        "visit": pa.array(rng.integers(0, 2, n)),
        "recency": pa.array(rng.integers(1, 12, n)),
    }
    cols.update(extra)
    return pa.table(cols)


@pytest.mark.parametrize(
    ("values", "control", "names"),
    [
        (pa.array([0, 1, 2, 1, 0]), "0", ("0", "1", "2")),
        (pa.array([0.0, 1.0, 2.0, 0.0]), "0", ("0", "1", "2")),
        (pa.array([0.0, 1.0, 2.0]), "0.0", ("0", "1", "2")),
        (pa.array([3, 1, 2]), "2", ("2", "1", "3")),
        (pa.array(["No E-Mail", "Mens E-Mail"]), "No E-Mail", ("No E-Mail", "Mens E-Mail")),
    ],
    ids=["int", "float-as-int", "control-written-as-float", "control-not-smallest", "strings"],
)
def test_arm_labels(values, control, names):
    arms = discover_arms(values, "arm", control)
    assert arms.names == names
    assert arms.encode(values)[0] == names.index(str(values[0].as_py()).removesuffix(".0"))


def test_control_not_among_values_lists_them():
    with pytest.raises(
        DataError,
        match=r"control label 'No Email' is not among the values of "
        r"column 'segment': 'Mens E-Mail', 'No E-Mail', 'Womens E-Mail'",
    ):
        discover_arms(_table().column("segment"), "segment", "No Email")


def test_roles_every_other_column_is_a_feature():
    table = _table().append_column("when", pa.array(np.arange(200).astype("datetime64[s]")))
    roles = assign_roles(table, treatment="segment", outcome="visit")
    assert roles.features == ("spend", "channel", "recency")
    assert roles.dropped_datetime == ("when",)
    assert roles.id_column == "row_id" and not roles.id_in_table


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("email", [f"user{i}@example.vn" for i in range(200)]),
        ("phone", [f"+84 90 {i:07d}" for i in range(200)]),
        ("account", [f"AC-{i * 7919 % 100003:06d}" for i in range(200)]),
        ("account_id", list(range(1000, 1200))),
    ],
    ids=["email", "phone", "account-number", "integer-id"],
)
def test_identifier_like_columns_are_refused(column, values):
    table = _table().append_column(column, pa.array(values))
    with pytest.raises(DataError, match=f"column '{column}' looks like an identifier"):
        assign_roles(table, treatment="segment", outcome="visit")
    # and it is fine once it is named as the id
    assert assign_roles(table, treatment="segment", outcome="visit", id_column=column).id_in_table


def test_missing_flag_column_names_it():
    with pytest.raises(DataError, match="the outcome column 'conversion' is not in the table"):
        assign_roles(_table(), treatment="segment", outcome="conversion")


def test_text_outcome_is_refused():
    table = _table(outcome=pa.array(["yes", "no"] * 100))
    roles = assign_roles(table, treatment="segment", outcome="outcome")
    with pytest.raises(DataError, match="column 'outcome' must be numeric"):
        encode_campaign(table, roles, "No E-Mail")


def test_encoding_categories_and_missing():
    table = _table()
    encoder = fit_encoder(table, ["spend", "channel"])
    X = encoder.transform({"spend": [1.5, None], "channel": ["web", "fax"]})
    assert X[0, 0] == 1.5 and np.isnan(X[1, 0])
    assert X[0, 1] == encoder.specs[1].levels.index("web") and np.isnan(X[1, 1])
    with pytest.raises(DataError, match="feature 'spend' must be numeric"):
        encoder.transform({"spend": pa.array(["a"]), "channel": pa.array(["web"])})


def test_a_column_without_any_value_is_a_numeric_feature_always_missing():
    """A CSV reader types an all-empty column null (a window no pilot customer had events in)."""
    table = _table().append_column("card_txn_5m", pa.nulls(_table().num_rows))
    encoder = fit_encoder(table, ["spend", "card_txn_5m"])
    assert encoder.specs[1].kind == "numeric"
    X = encoder.transform({"spend": [1.0, 2.0], "card_txn_5m": table.column("card_txn_5m")[:2]})
    assert np.isnan(X[:, 1]).all()
    served = encoder.transform({"spend": [1.0], "card_txn_5m": [3]})  # a value when served
    assert served[0, 1] == 3.0


def test_balance_check_flags_a_feature_that_decided_the_arm():
    from uplift_engine.learn.data import check_balance

    rng = np.random.default_rng(3)
    n = 20_000
    X = rng.normal(size=(n, 3))
    fair = rng.choice(2, n)
    assert check_balance(X, fair, ["a", "b", "c"], ("control", "offer"), []) == []
    rigged = np.where(X[:, 1] > 0.5, 1, fair)  # customers high on 'b' always got the offer
    found = check_balance(X, rigged, ["a", "b", "c"], ("control", "offer"), [])
    assert [i.feature for i in found] == ["b"]
    assert "differs between 'offer' and control" in found[0].describe()


def test_propensity_column_completes_to_rows_that_sum_to_one():
    from uplift_engine.learn.data.dataset import propensity_matrix

    treatment = np.array([0, 1, 2, 1])
    matrix = propensity_matrix(treatment, np.array([0.5, 0.2, 0.9, 0.4]), 3)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    np.testing.assert_allclose(matrix[np.arange(4), treatment], [0.5, 0.2, 0.9, 0.4])


def test_rows_encode_to_the_bits_of_columns():
    """The serving path encodes rows one by one; the training path whole columns."""
    rng = np.random.default_rng(3)
    n = 400
    table = pa.table(
        {
            "income": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(3, 1, n))),
            "visits": pa.array(rng.integers(0, 50, n)),
            "vip": pa.array(rng.random(n) < 0.3),
            "segment": pa.array(rng.choice(["mass", "affluent", "private"], n)),
            "empty": pa.nulls(n),
        }
    )
    encoder = fit_encoder(table, table.column_names)
    rows = table.to_pylist()
    for k in range(0, n, 7):  # unseen levels, None, floats given to ints, ints given to floats
        rows[k] = {**rows[k], "segment": "unknown", "visits": None, "income": 12}
    for k in range(3, n, 11):
        rows[k] = {**rows[k], "visits": 4.5, "vip": None, "empty": 2}
    columns = {name: [r[name] for r in rows] for name in table.column_names}
    assert encoder.transform_rows(rows).tobytes() == encoder.transform(columns).tobytes()
    with pytest.raises(DataError, match="missing feature column 'vip'"):
        encoder.transform_rows([{k: v for k, v in rows[0].items() if k != "vip"}])
    with pytest.raises(DataError, match="feature 'income' must be numeric"):
        encoder.transform_rows([{**rows[0], "income": "a lot"}])
