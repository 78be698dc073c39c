"""``uplift optimize`` through a small Typer app built around the command function."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from uplift_engine.cli.optimize import optimize
from uplift_engine.decide.planning import read_plan
from uplift_engine.decide.planning.synthetic import synthetic_campaign
from uplift_engine.lake import read_table, write_table
from uplift_engine.learn.data.scores_files import write_scores

app = typer.Typer()
app.command("optimize")(optimize)


@app.callback()
def main() -> None:
    """Keep ``optimize`` a sub-command."""


runner = CliRunner()

ECONOMICS = """
control: none
offers:
  cashback:   {contact_cost: 1.0, redemption_cost: 20.0, max_customers: 300}
  fee_waiver: {contact_cost: 0.5, redemption_cost: 5.0}
"""
POLICY = """
dnc: dnc.txt
protected: 'segment == "priority"'
eligibility:
  - name: adults
    when: "age >= 21"
    offers: [cashback]
contact_caps:
  - {column: contacts_30d, max: 4}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("optimize")
    camp = synthetic_campaign(3_000, seed=5)
    write_scores(camp.scores, camp.meta, root / "scores.parquet")
    write_table(camp.customers, root / "customers.csv")
    (root / "economics.yaml").write_text(ECONOMICS)
    (root / "policy.yaml").write_text(POLICY)
    ids = camp.scores.column("customer_id").to_pylist()
    (root / "dnc.txt").write_text("\n".join(str(i) for i in ids[:25]))
    return root


def invoke(root, *args):
    base = ["optimize", str(root / "scores.parquet"), "--economics", str(root / "economics.yaml")]
    return runner.invoke(app, [*base, *map(str, args)])


def test_optimize_writes_the_plan_and_prints_the_comparison(files):
    out = files / "plan.csv"
    done = invoke(
        files,
        "--budget",
        2500,
        "--value-col",
        "clv",
        "--customers",
        files / "customers.csv",
        "--policy",
        files / "policy.yaml",
        "--seed",
        3,
        "--out",
        out,
    )
    assert done.exit_code == 0, done.output
    for text in (
        "optimised",
        "top-K by uplift",
        "top-K by propensity",
        "dnc=25",
        "holdout:",
        "wrote the plan of 3,000 customers",
    ):
        assert text in done.stdout
    table, meta = read_plan(out)
    assert table.num_rows == 3_000 and meta["schema_version"] == "uplift.plan/1"
    assert sum(table.column("expected_cost").to_pylist()) <= 2500 * (1 + 1e-9)
    assert table.column("offer").to_pylist().count("cashback") <= 300
    assert set(table.column("excluded_by").to_pylist()[:25]) == {"dnc"}
    assert meta["holdout"]["seed"] == 3


def test_frontier_alone_prints_and_writes_the_curve(files):
    out = files / "frontier.parquet"
    done = invoke(
        files, "--value", 60, "--frontier", "--frontier-points", 5, "--frontier-out", out, "--json"
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["summary"] is None and len(data["frontier"]) == 5
    profits = [p["profit"] for p in data["frontier"]]
    assert profits == sorted(profits) and profits[0] == 0
    assert read_table(out).num_rows == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--value", 60, "--out", "plan.csv"], "give --budget and --out"),
        (["--budget", -3, "--value", 60, "--out", "plan.csv"], r"--budget must be ≥ 0, got -3"),
        (
            ["--budget", 100, "--out", "plan.csv"],
            "a binary outcome needs the value of a conversion",
        ),
        (["--budget", 100, "--value", 60, "--out", "plan.txt"], "cannot tell the format"),
        (
            ["--budget", 100, "--value", 60, "--out", "plan.csv", "--policy", "bad_policy.yaml"],
            r"policy rule 'adults' \(eligibility\[0\]\): syntax error at position 5",
        ),
        (
            [
                "--budget",
                100,
                "--value",
                60,
                "--out",
                "plan.csv",
                "--economics",
                "bad_economics.yaml",
            ],
            "offer 'sms' in the economics is not an offer of the scores",
        ),
        (
            ["--budget", 100, "--value", 60, "--out", "plan.csv", "--method", "magic"],
            "--method must be one of auto, milp, lagrangian, got 'magic'",
        ),
    ],
    ids=[
        "no-budget",
        "negative-budget",
        "no-value",
        "bad-extension",
        "rule-syntax",
        "unknown-offer",
        "unknown-method",
    ],
)
def test_user_errors_exit_2_with_one_line_and_no_output(files, tmp_path, args, message):
    (files / "bad_policy.yaml").write_text("eligibility: [{name: adults, when: 'age => 21'}]")
    (files / "bad_economics.yaml").write_text("offers: {sms: {contact_cost: 0.1}}")
    args = [tmp_path / a if str(a).startswith("plan") else a for a in args]
    args = [files / a if str(a).startswith("bad_") else a for a in args]
    if "--economics" in args:  # replace the default economics
        i = args.index("--economics")
        base = ["optimize", str(files / "scores.parquet"), "--economics", str(args[i + 1])]
        done = runner.invoke(app, [*base, *map(str, args[:i] + args[i + 2 :])])
    else:
        done = invoke(files, *args)
    assert done.exit_code == 2, done.output
    assert done.stderr.strip().startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert re.search(message, done.stderr), done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written, not even in part


def test_a_scores_file_from_elsewhere_without_metadata_is_read(files, tmp_path):
    table = pa.table(
        {
            "id": [1, 2, 3],
            "pred_0": [0.1, 0.2, 0.3],
            "pred_1": [0.3, 0.2, 0.6],
            "uplift_1": [0.2, 0.0, 0.3],
        }
    )
    write_table(table, tmp_path / "s.csv")
    (tmp_path / "e.yaml").write_text("offers: {1: {contact_cost: 1, redemption_cost: 2}}")
    done = runner.invoke(
        app,
        [
            "optimize",
            str(tmp_path / "s.csv"),
            "--economics",
            str(tmp_path / "e.yaml"),
            "--budget",
            "5",
            "--value",
            "50",
            "--holdout",
            "0",
            "--out",
            str(tmp_path / "p.parquet"),
        ],
    )
    assert done.exit_code == 0, done.output
    plan, _ = read_plan(tmp_path / "p.parquet")
    assert plan.column("id").to_pylist() == [1, 2, 3]
    assert plan.column("offer").to_pylist() == ["1", "", "1"]
