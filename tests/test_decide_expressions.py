from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from uplift_engine.decide import compile_rule
from uplift_engine.decide.planning import evaluate_columns
from uplift_engine.errors import ConfigError, DataError

COLUMNS = {
    "age": pa.array([17, 30, None, 50, 65]),
    "segment": pa.array(["mass", "priority", "young", None, "mass"]).dictionary_encode(),
    "is_vip": pa.array([True, False, None, True, False]),
    "balance": pa.array([-5.0, 1200.5, 300.0, float("nan"), 0.0]),
    "odd name": pa.array([1, 2, 3, 4, 5]),
}
N = 5


def rows() -> list[dict[str, object]]:
    return [{k: v[i].as_py() for k, v in COLUMNS.items()} for i in range(N)]


@pytest.mark.parametrize(
    ("text", "unknown", "expected"),
    [
        ("age >= 18", False, [False, True, False, True, True]),
        ("age >= 18", True, [False, True, True, True, True]),
        ('segment == "priority"', False, [False, True, False, False, False]),
        ("segment in ('mass', 'young')", False, [True, False, True, False, True]),
        ("segment not in ['mass']", False, [False, True, True, False, False]),
        ("age in (17, 65.0)", False, [True, False, False, False, True]),
        ("is_vip or age > 60", False, [True, False, False, True, True]),
        ("not is_vip and age < 40", False, [False, True, False, False, False]),
        (
            "(age > 20 or is_vip) and not (segment == 'mass')",
            False,
            [False, True, False, False, False],
        ),
        ("balance > -10 and balance <= 300", False, [True, False, True, False, True]),
        ("`odd name` != 3", False, [True, True, False, True, True]),
        ("true", False, [True] * 5),
        ("False or age == 30", False, [False, True, False, False, False]),
        ("balance == 1.2005e3", False, [False, True, False, False, False]),
    ],
    ids=[
        "compare",
        "unknown-true",
        "string-eq",
        "in",
        "not-in-brackets",
        "in-mixed-numbers",
        "or-flag",
        "not-and",
        "parens",
        "negative-number",
        "backquoted",
        "literal-true",
        "capital-false",
        "exponent",
    ],
)
def test_rule_values_vectorised_and_per_row_agree(text, unknown, expected):
    rule = compile_rule(text, "test rule")
    assert evaluate_columns(rule, COLUMNS, N, unknown=unknown).tolist() == expected
    assert [rule.evaluate_row(r, unknown=unknown) for r in rows()] == expected


def test_rule_lists_the_columns_it_reads():
    rule = compile_rule("age > 1 and (segment == 'x' or not is_vip) and age < 9")
    assert rule.columns == ("age", "is_vip", "segment")


def test_nan_counts_as_missing_in_both_paths():
    rule = compile_rule("balance >= 0 or balance < 0")
    vectorised = evaluate_columns(rule, COLUMNS, N, unknown=False)
    # Arrow compares NaN as a number (false both ways); rows see NaN as missing: same answer
    assert vectorised[3] == rule.evaluate_row(rows()[3], unknown=False) == False  # noqa: E712


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("age >= = 18", 8, r"unexpected '=' \(use == to compare\)"),
        ("age = 18", 5, "use == to compare"),
        ("age > 1 > 2", 9, "chained comparisons"),
        ("segment in ()", 13, "expected a value in the list"),
        ("(age > 1", 9, r"expected '\)', got the end of the rule"),
        ("age > 1 vip", 9, "unexpected 'vip' after a complete rule"),
        ("", 1, "the rule is empty"),
        ("is_vip && age > 1", 8, r"use and"),
        ("__import__('os').system('rm -rf /')", 17, r"unexpected '\.'"),
        ("__import__('os')", 11, r"unexpected '\(' after a complete rule"),
        ("age.real > 1", 4, r"unexpected '\.'"),
        ("lambda: 1", 7, r"unexpected ':'"),
        ("age > 'open", 7, r"unexpected \"'\""),
        ("age in 5", 8, "expected a list"),
        ("- age > 1", 3, "expected a number after '-'"),
    ],
    ids=[
        "double-equals",
        "single-equals",
        "chained",
        "empty-list",
        "unclosed",
        "trailing",
        "empty",
        "c-and",
        "code-injection",
        "call",
        "attribute",
        "lambda",
        "unterminated-string",
        "in-scalar",
        "minus-column",
    ],
)
def test_syntax_errors_name_the_rule_and_position(text, position, message):
    with pytest.raises(
        ConfigError,
        match=rf"policy rule 'adults': syntax error at position "
        rf"{position} of .*{message}",
    ):
        compile_rule(text, "policy rule 'adults'")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("segment > 5", r"cannot compare column 'segment' \(a string\) with 5 \(a number\)"),
        ("age", r"column 'age' \(a number\) is used as true/false"),
        (
            "segment in (1, 2)",
            r"cannot look for column 'segment' \(a string\) in a list of numbers",
        ),
        ("agee > 1", "column 'agee' is not available"),
        ("is_vip < true", "'<' does not order true/false flags"),
        ("age in (1, 'a')", "the list after in mixes kinds of values"),
    ],
    ids=["string-vs-number", "number-as-flag", "in-wrong-kind", "missing", "order-flags", "mixed"],
)
def test_type_errors_name_the_rule(text, message):
    rule = compile_rule(text, "policy rule 'r'")
    with pytest.raises(DataError, match=r"policy rule 'r' \(position \d+ of .*\): .*" + message):
        evaluate_columns(rule, COLUMNS, N, unknown=False)
    with pytest.raises(DataError, match=message):
        rule.evaluate_row(rows()[1], unknown=False)


def test_deep_nesting_and_long_rules_are_refused():
    with pytest.raises(ConfigError, match="nested deeper than 64 levels"):
        compile_rule("(" * 70 + "true" + ")" * 70)
    with pytest.raises(ConfigError, match="at most 4000 characters"):
        compile_rule("true or " * 600 + "true")


def test_a_rule_is_evaluated_over_a_million_rows_quickly():
    n = 1_000_000
    rng = np.random.default_rng(0)
    cols = {"age": pa.array(rng.integers(10, 90, n)), "seg": pa.array(rng.choice(["a", "b"], n))}
    out = evaluate_columns(compile_rule("age >= 18 and seg in ('a')"), cols, n, unknown=False)
    expected = (cols["age"].to_numpy() >= 18) & (np.asarray(cols["seg"].to_pylist()) == "a")
    assert np.array_equal(out, expected)
