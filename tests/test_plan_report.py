"""``uplift plan-report``: the offers, the funnel of rules and the groups of a plan."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app
from uplift_engine.decide.planning import load_economics, load_policy, plan_campaign, write_plan
from uplift_engine.decide.planning.synthetic import synthetic_campaign

ECONOMICS = {
    "control": "none",
    "offers": {
        "cashback": {"contact_cost": 1.0, "redemption_cost": 20.0},
        "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5.0},
    },
}
POLICY = {
    "universal_holdout": {"share": 0.05, "salt": "programme-2026"},
    "protected": "is_vip",
    "eligibility": {"adults": {"when": "age >= 21", "offers": ["cashback"]}},
    "suitability": {"not_young": 'segment != "young"'},  # keeps one segment out: a flag
    "contact_caps": [{"column": "contacts_30d", "max": 4}],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    camp = synthetic_campaign(5_000, seed=4)
    plan = plan_campaign(
        camp.scores, camp.meta, load_economics(ECONOMICS), budget=3_000.0, value_col="clv",
        customers=camp.customers, policy=load_policy(POLICY), seed=2,
    )  # fmt: skip
    root = tmp_path_factory.mktemp("plan-report")
    write_plan(plan.table, plan.meta, root / "plan.parquet")
    customers = camp.customers.join(camp.scores.select(["customer_id", "segment"]), "customer_id")
    pq.write_table(customers, root / "customers.parquet")
    return root / "plan.parquet", root / "customers.parquet", plan.meta


def _report(plan: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, ["plan-report", str(plan), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_report_adds_up_to_the_plan(files) -> None:
    plan, customers, meta = files
    report = _report(plan, "--customers", str(customers))
    table = pq.read_table(plan)
    n, treated = table.num_rows, sum(1 for o in table.column("offer").to_pylist() if o)
    assert report["customers"] == n and report["treated"] == treated
    assert sum(o["customers"] for o in report["offers"].values()) == treated
    assert report["funnel"][0]["customers"] == n and report["funnel"][-1]["customers"] == treated
    stages = [s["stage"] for s in report["funnel"]]
    assert stages.index("after holdout rules") < stages.index("after suitability rules")
    assert sum(report["no_offer"].values()) == n - treated
    # every rule's count is the plan's own count of the customers it excluded
    assert report["rules"] == {
        k: v for k, v in meta["guardrails"]["customers_excluded"].items() if v
    }
    assert report["no_offer"]["excluded: holdout"] == report["rules"]["holdout:universal"]
    seg = report["groups"]["segment"]
    assert sum(g["customers"] for g in seg.values()) == n
    # the suitability rule keeps the young out: flagged
    assert seg["young"]["treated_share"] == 0 and seg["young"]["flagged"]
    assert {"column": "segment", "value": "young", "ratio": 0.0} in report["flagged"]
    ages = report["groups"]["age"]
    assert "18–24" in ages and sum(g["customers"] for g in ages.values()) == n


def test_the_terminal_report_and_the_json_file(files, tmp_path: Path) -> None:
    plan, customers, _ = files
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["plan-report", str(plan), "--customers", str(customers), "--groups", "segment",
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "chosen by the optimiser" in result.output and "← FLAG" in result.output
    assert json.loads(out.read_text())["schema_version"] == "uplift.plan_report/1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flag-ratio", "1.5"], "flag_ratio must be in (0, 1), got 1.5"),
        (["--groups", "gender"], "group column 'gender' is not in the customers table"),
        (["--age-bands", "18,x"], "--age-bands must be whole numbers"),
        (["--age-bands", "30,18"], "age bands must be increasing"),
    ],
)
def test_bad_options_are_refused_naming_them(files, args: list[str], message: str) -> None:
    plan, customers, _ = files
    result = CliRunner().invoke(app, ["plan-report", str(plan), "--customers", str(customers),
                                      *args])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_plan_customer_missing_from_the_customers_table_is_counted_not_dropped(
    files, tmp_path: Path
) -> None:
    plan, customers, _ = files
    few = pq.read_table(customers).slice(0, 100)
    pq.write_table(few, tmp_path / "few.parquet")
    report = _report(plan, "--customers", str(tmp_path / "few.parquet"), "--groups", "segment")
    seg = report["groups"]["segment"]
    assert seg["(missing)"]["customers"] == report["customers"] - 100
