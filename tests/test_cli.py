"""The command line end to end on a simulated bank: train, score, evaluate, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app
from uplift_engine.lake import read_table, write_table
from uplift_engine.learn.training import AUTO_CANDIDATES

pytestmark = pytest.mark.slow
runner = CliRunner()
TRAIN = ["--treatment", "arm", "--control", "control", "--outcome", "converted"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def model(campaign_table, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "model"
    done = invoke("train", campaign_table, *TRAIN, "--exclude", "revenue", "--out", out, "--json")
    assert done.exit_code == 0, done.output
    return out, json.loads(done.stdout)


def test_train_reports_selection_and_the_held_out_evaluation(model):
    _, result = model
    assert result["learner"] in AUTO_CANDIDATES
    assert result["validation"] == {
        "kind": "held_out",
        "rows": 9_000,
        "train_rows": 21_000,
        "share": 0.3,
        "seed": 42,
        "refit": True,
    }
    assert result["train_rows"] == 30_000  # evaluated on 9,000 held out, then refitted on all
    scores = {c["learner"]: c for c in result["selection"]["candidates"]}
    assert set(scores) == set(AUTO_CANDIDATES)
    selection = result["selection"]
    assert selection["best"] == max(scores, key=lambda n: scores[n]["score"])
    tied = [n for n in AUTO_CANDIDATES if scores[n]["gap_low"] <= 0 <= scores[n]["gap_high"]]
    assert selection["winner"] == tied[0] == result["learner"]
    assert all(c["low"] <= c["score"] <= c["high"] for c in scores.values())
    assert "revenue" not in result["features"] and "customer_id" not in result["features"]
    # the model targets better than random on customers it has not seen
    for offer, report in result["evaluation"]["per_offer"].items():
        assert report["qini_coefficient"]["value"] > 0, offer


def test_targeting_reaches_a_share_of_the_oracle(model, campaign_table, lake, tmp_path):
    """On held-in + held-out rows alike the policy must capture ≥ 35% of the oracle's gain.

    Why 35%: a customer's type (Persuadable, Sleeping Dog …) is drawn at random given the
    features, so even a perfect model of the features cannot reach the oracle, which knows the
    type. Measured on this simulator with 21,000 training rows: 45–55% across seeds.
    """
    out = tmp_path / "report.json"
    done = invoke(
        "evaluate",
        model[0],
        campaign_table,
        "--truth",
        lake / "truth/campaign_truth",
        "--out",
        out,
        "--bootstrap",
        "50",
    )
    assert done.exit_code == 0, done.output
    report = json.loads(out.read_text())
    assert report["schema_version"] == "uplift.evaluation/1"
    assert report["policy"]["truth"]["fraction_of_oracle_gain"] >= 0.35
    for offer in ("cashback", "fee_waiver", "bonus_points"):
        truth = report["per_offer"][offer]["truth"]
        assert truth["effect_correlation"] > 0.15, offer
    assert "captures" in done.stdout and "oracle" in done.stdout


def test_evaluate_measures_interval_coverage_against_the_truth(campaign_table, lake, tmp_path):
    """A causal forest's 90% intervals, judged on the customers it did not see.

    The simulator's per-customer truth includes each customer's random type, which no feature
    predicts: the intervals hold only about 60% of those effects, but most of the effects
    expected given the customer's traits (``expected_*``), which is what a model can estimate.
    Measured with this lake (15,000 training rows, scored on all 30,000): see the bands.
    """
    bundle = tmp_path / "cf"
    done = invoke(
        "train", campaign_table, *TRAIN, "--exclude", "revenue", "--learner", "causal_forest",
        "--out", bundle, "--holdout", "0.5", "--no-refit",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    out = tmp_path / "report.json"
    done = invoke(
        "evaluate", bundle, campaign_table, "--truth", lake / "truth/campaign_truth",
        "--out", out, "--bootstrap", "0",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    report = json.loads(out.read_text())
    assert report["model"]["intervals"] == {"level": 0.9, "kind": "confidence"}
    for offer in ("cashback", "fee_waiver", "bonus_points"):
        truth = report["per_offer"][offer]["truth"]
        # measured: 64–70% of the true effects, 77–81% of the conditional ones
        assert 0.5 < truth["interval_coverage"] < 0.8, offer
        assert 0.7 < truth["conditional_interval_coverage"] < 0.92, offer
        assert truth["conditional_interval_coverage"] > truth["interval_coverage"] + 0.05
        assert truth["conditional_pehe"] < 0.5 * truth["pehe"], offer
    assert "intervals hold" in done.stdout


@pytest.mark.parametrize("suffix", [".csv", ".parquet"], ids=["csv", "parquet"])
def test_score_writes_the_scores_contract(model, campaign_table, tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    done = invoke("score", model[0], campaign_table, "--out", out, "--keep", "segment,revenue")
    assert done.exit_code == 0, done.output
    scores = pacsv.read_csv(out) if suffix == ".csv" else pq.read_table(out)
    arms = ["control", "bonus_points", "cashback", "fee_waiver"]
    offers = arms[1:]
    # the bounds follow each effect when the chosen learner has intervals (causal forest …)
    bounds = ("", "_lower", "_upper") if model[1]["intervals"] else ("",)
    assert scores.column_names == [
        "customer_id",
        *(f"pred_{a}" for a in arms),
        *(f"uplift_{o}{b}" for o in offers for b in bounds),
        "segment",
        "revenue",
    ]
    data = read_table(campaign_table)
    assert scores.column("customer_id").to_pylist() == data.column("customer_id").to_pylist()
    for offer in offers:
        np.testing.assert_allclose(
            scores.column(f"uplift_{offer}").to_numpy(),
            scores.column(f"pred_{offer}").to_numpy() - scores.column("pred_control").to_numpy(),
        )


def test_score_handles_unseen_categories_and_missing_values(model, campaign_table, tmp_path):
    data = read_table(campaign_table).slice(0, 100)
    odd = data.set_column(
        data.column_names.index("segment"), "segment", pa.array(["never-seen"] * 100)
    ).set_column(data.column_names.index("age"), "age", pa.nulls(100, pa.int16()))
    write_table(odd, tmp_path / "odd.parquet")
    done = invoke("score", model[0], tmp_path / "odd.parquet", "--out", tmp_path / "s.parquet")
    assert done.exit_code == 0, done.output
    assert np.isfinite(
        pq.read_table(tmp_path / "s.parquet").column("pred_control").to_numpy()
    ).all()


def test_numeric_string_arms_and_row_ids(tmp_path):
    """Any campaign table: numeric arm labels (0/1/2 as floats), no id column, CSV."""
    rng = np.random.default_rng(0)
    n = 3_000
    x = rng.normal(size=n)
    arm = rng.choice([0.0, 1.0, 2.0], n)
    y = (rng.random(n) < 0.2 + 0.1 * (arm == 1) * (x > 0)).astype(int)
    pacsv.write_csv(
        pa.table({"x": x, "region": rng.choice(["n", "s"], n), "t": arm, "y": y}),
        tmp_path / "c.csv",
    )
    done = invoke(
        "train",
        tmp_path / "c.csv",
        "--treatment",
        "t",
        "--control",
        "0",
        "--outcome",
        "y",
        "--learner",
        "t_learner",
        "--out",
        tmp_path / "m",
    )
    assert done.exit_code == 0, done.output
    assert (
        invoke("score", tmp_path / "m", tmp_path / "c.csv", "--out", tmp_path / "s.csv").exit_code
        == 0
    )
    scores = pacsv.read_csv(tmp_path / "s.csv")
    assert scores.column_names[:4] == ["row_id", "pred_0", "pred_1", "pred_2"]
    assert scores.column("row_id").to_pylist() == list(range(n))


def test_revenue_outcome(campaign_table, tmp_path):
    done = invoke(
        "train",
        campaign_table,
        "--treatment",
        "arm",
        "--control",
        "control",
        "--outcome",
        "revenue",
        "--exclude",
        "converted",
        "--learner",
        "t_learner",
        "--out",
        tmp_path / "m",
        "--json",
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["outcome_kind"] == "continuous"
    assert result["evaluation"]["outcome_kind"] == "continuous"


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        (
            None,
            ["--outcome", "conversions"],
            "the outcome column 'conversions' is not in the table",
        ),
        (
            None,
            ["--control", "none"],
            "control label 'none' is not among the values of column 'arm'",
        ),
        (
            "tiny-arm",
            [],
            "every arm needs at least 20 rows to learn whom an offer moves; in "
            "this table 'cashback' has 10",
        ),
        ("text-outcome", [], "column 'converted' must be numeric"),
        ("email", [], "column 'email' looks like an identifier"),
    ],
    ids=["missing-column", "unknown-control", "tiny-arm", "text-outcome", "identifier"],
)
def test_bad_training_input_exits_2_and_writes_nothing(
    campaign_table, tmp_path, change, args, message
):
    data = read_table(campaign_table).slice(0, 4_000)
    if change == "tiny-arm":
        arms = data.column("arm").to_pylist()
        keep = [i for i, a in enumerate(arms) if a != "cashback"] + [
            i for i, a in enumerate(arms) if a == "cashback"
        ][:10]
        data = data.take(pa.array(sorted(keep)))
    elif change == "text-outcome":
        data = data.set_column(
            data.column_names.index("converted"),
            "converted",
            pa.array(["yes" if v else "no" for v in data.column("converted").to_pylist()]),
        )
    elif change == "email":
        data = data.append_column(
            "email", pa.array([f"c{i}@vpbank.example" for i in range(data.num_rows)])
        )
    write_table(data, tmp_path / "d.parquet")
    flags = dict(zip(TRAIN[::2], TRAIN[1::2], strict=True))
    flags.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [x for pair in flags.items() for x in pair]
    done = runner.invoke(
        app,
        [
            "train",
            str(tmp_path / "d.parquet"),
            *argv,
            "--exclude",
            "revenue",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert done.exit_code == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_unreadable_file_and_corrupt_bundle(model, campaign_table, tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"\x00\x01garbage\n\x02")
    done = runner.invoke(
        app, ["train", str(tmp_path / "nope.csv"), *TRAIN, "--out", str(tmp_path / "m")]
    )
    assert done.exit_code == 2 and "no file or folder at" in done.stderr
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really parquet")
    for bad in ("bad.csv", "bad.parquet"):
        done = runner.invoke(
            app, ["train", str(tmp_path / bad), *TRAIN, "--out", str(tmp_path / "m")]
        )
        assert done.exit_code == 2, bad
        assert "cannot read" in done.stderr or "is not in the table" in done.stderr, done.stderr
    import shutil

    shutil.copytree(model[0], tmp_path / "copy")
    (tmp_path / "copy" / "manifest.json").write_text("{}")
    done = runner.invoke(
        app,
        ["score", str(tmp_path / "copy"), str(campaign_table), "--out", str(tmp_path / "s.csv")],
    )
    assert done.exit_code == 2 and "does not match its checksum" in done.stderr
    assert not (tmp_path / "s.csv").exists()


def test_version_and_help():
    assert invoke("--version").stdout.startswith("uplift-engine ")
    for command in ("simulate", "train", "score", "evaluate", "optimize", "demo"):
        done = invoke(command, "--help")
        assert done.exit_code == 0 and "--" in done.stdout, command


def test_propensity_column_is_used(campaign_table, tmp_path):
    """Unequal shares given per row: training and the held-out policy value use them."""
    data = read_table(campaign_table).slice(0, 8_000)
    shares = {"control": 0.25, "cashback": 0.25, "fee_waiver": 0.30, "bonus_points": 0.20}
    data = data.append_column("p", pa.array([shares[a] for a in data.column("arm").to_pylist()]))
    write_table(data, tmp_path / "d.parquet")
    done = invoke(
        "train",
        tmp_path / "d.parquet",
        *TRAIN,
        "--exclude",
        "revenue",
        "--propensity",
        "p",
        "--learner",
        "dr_learner",
        "--out",
        tmp_path / "m",
        "--json",
    )
    assert done.exit_code == 0, done.output
    assert "p" not in json.loads(done.stdout)["features"]
    done = invoke("evaluate", tmp_path / "m", tmp_path / "d.parquet", "--bootstrap", "20", "--json")
    assert done.exit_code == 0, done.output


def test_ids_are_carried_as_given(tmp_path):
    """Ids with leading zeros in a CSV come back unchanged in the scores."""
    rng = np.random.default_rng(1)
    n = 2_000
    ids = [f"{i:07d}" for i in range(n)]
    arm = rng.choice(["none", "mail"], n)
    y = (rng.random(n) < 0.1 + 0.1 * (arm == "mail")).astype(int)
    table = pa.table({"customer_id": ids, "x": rng.normal(size=n), "arm": arm, "y": y})
    pacsv.write_csv(table, tmp_path / "c.csv")
    done = invoke(
        "train",
        tmp_path / "c.csv",
        "--treatment",
        "arm",
        "--control",
        "none",
        "--outcome",
        "y",
        "--learner",
        "t_learner",
        "--out",
        tmp_path / "m",
    )
    assert done.exit_code == 0, done.output
    done = invoke("score", tmp_path / "m", tmp_path / "c.csv", "--out", tmp_path / "s.parquet")
    assert done.exit_code == 0, done.output
    assert pq.read_table(tmp_path / "s.parquet").column("customer_id").to_pylist() == ids
