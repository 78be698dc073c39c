"""The demo runs end to end and tells its story (a small bank, so it stays quick)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app

pytestmark = pytest.mark.slow


def test_demo_runs_and_the_plan_beats_top_k_on_the_truth(tmp_path):
    out = tmp_path / "demo"
    done = CliRunner().invoke(
        app,
        [
            "demo",
            "--customers",
            "30000",
            "--out",
            str(out),
            "--learner",
            "causal_forest",
            "--verbose",
        ],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    text = done.stdout
    for part in (
        "1. The bank: 30,000 customers",
        "2. The model: causal_forest, trained on",
        "3. Tested on",
        "customers it never saw",
        "a budget of",
        "million VND",
        "The budget pays for",
        "Which profit to trust",
        "really earns",
        # --verbose: the statistics
        "its 90% intervals hold",
        "of the effects expected given the customer's traits",
        "optimiser:",
        # the release, served over HTTP and asked
        "5. Deciding in real time",
        "served over HTTP (http://127.0.0.1:",
        "Every answer is in the decision log (3 lines",
        # the dashboard over it
        "6. The dashboard (http://127.0.0.1:",
        "operations counts the 3 decisions logged",
        "uplift dashboard --releases",
    ):
        assert part in text, part
    assert len([line for line in text.splitlines() if line.startswith("   - customer ")]) == 3
    earned = {}
    for line in text.splitlines():
        for name in ("the optimised plan", "top-K by uplift", "top-K by propensity"):
            if (
                line.strip().startswith(name)
                and line.strip()[len(name) :].strip().replace(",", "").lstrip("-").isdigit()
            ):
                earned[name] = float(line.strip()[len(name) :].replace(",", ""))
    assert earned["the optimised plan"] > earned["top-K by uplift"] > earned["top-K by propensity"]
    for name in ("model/manifest.json", "scores.parquet", "plan.parquet", ".uplift-demo",
                 "releases/current.json", "releases/champion.json", "online.sqlite",
                 "lake/decisions"):  # fmt: skip
        assert (out / name).exists(), name
    # a second run replaces its own output; a folder it did not make is refused
    again = CliRunner().invoke(
        app, ["demo", "--customers", "3000", "--out", str(out), "--learner", "t_learner"]
    )
    assert again.exit_code == 0, again.output
    assert "optimiser:" not in again.stdout and "Add --verbose" in again.stdout
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("precious")
    refused = CliRunner().invoke(app, ["demo", "--out", str(foreign)])
    assert refused.exit_code == 2 and "was not made by the demo" in refused.stderr
    assert (foreign / "keep.txt").read_text() == "precious"
