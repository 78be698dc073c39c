"""``uplift train --set KEY=VALUE``: parsing, sorting into learner and booster, type checks."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app
from uplift_engine.errors import ConfigError
from uplift_engine.pipeline.learner_settings import parse_pairs, split_settings

TRAIN = ("--treatment", "arm", "--control", "control", "--outcome", "converted")


def test_values_are_read_as_yaml_scalars():
    values = parse_pairs(["n_trees=400", "sample_fraction=0.4", "final_stage=forest", "x=null"])
    assert values == {"n_trees": 400, "sample_fraction": 0.4, "final_stage": "forest", "x": None}


def test_settings_are_sorted_into_learner_and_booster():
    values = parse_pairs(["final_stage=forest", "n_trees=200", "learning_rate=0.1"])
    chosen = split_settings("r_learner", values, auto=False)
    assert chosen.learner == {"final_stage": "forest", "n_trees": 200}
    assert chosen.booster == {"learning_rate": 0.1}
    # an integer where a float is expected is taken as the float
    assert split_settings("t_learner", {"reg_lambda": 2}, auto=False).booster == {"reg_lambda": 2.0}
    # a None default takes the type its annotation names
    leaf = split_settings("causal_forest", {"min_samples_leaf": 50}, auto=False)
    assert leaf.learner == {"min_samples_leaf": 50}
    # one forest per offer instead of the joint forest
    per_offer = split_settings("causal_forest", parse_pairs(["joint_arms=false"]), auto=False)
    assert per_offer.learner == {"joint_arms": False}


@pytest.mark.parametrize(
    ("learner", "pairs", "auto", "match"),
    [
        ("t_learner", ["n_trees"], False, "--set expects KEY=VALUE, got 'n_trees'"),
        ("t_learner", ["a=1", "a=2"], False, "--set gives 'a' twice"),
        ("t_learner", ["a=[1, 2]"], False, "--set a must be a single value"),
        ("t_learner", ["n_trees=100"], False, "'n_trees' is not a setting of t_learner; known: "),
        ("t_learner", ["n_trees=100"], True, "with --learner auto only booster parameters"),
        ("t_learner", ["seed=3"], False, "--set seed is not a setting here: use --seed"),
        ("t_learner", ["library=catboost"], False, "use --base"),
        ("causal_forest", ["n_trees=many"], False, "--set n_trees expects an integer, got 'many'"),
        ("causal_forest", ["min_samples_leaf=abc"], False, "min_samples_leaf expects an integer"),
        ("r_learner", ["final_stage=3"], False, "--set final_stage expects a word, got 3"),
        ("t_learner", ["learning_rate=fast"], False, "learning_rate expects a number"),
        ("t_learner", ["n_estimators=true"], False, "n_estimators expects an integer, got True"),
        ("causal_forest", ["joint_arms=1"], False, "joint_arms expects true or false, got 1"),
    ],
    ids=[
        "no-equals",
        "twice",
        "list",
        "unknown",
        "auto-learner-key",
        "seed",
        "library",
        "not-int",
        "none-default",
        "not-word",
        "not-number",
        "bool-for-int",
        "int-for-bool",
    ],
)
def test_bad_settings_are_refused_naming_the_key(learner, pairs, auto, match):
    with pytest.raises(ConfigError, match=match):
        split_settings(learner, parse_pairs(pairs), auto=auto)


@pytest.mark.slow
def test_train_passes_settings_to_the_learner(campaign_table, tmp_path):
    runner = CliRunner()
    out = tmp_path / "r_forest"
    args = [
        "train", str(campaign_table), *TRAIN, "--exclude", "revenue", "--learner", "r_learner",
        "--set", "final_stage=forest", "--set", "n_trees=40", "--set", "learning_rate=0.1",
        "--out", str(out), "--json",
    ]  # fmt: skip
    done = runner.invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text())
    params = manifest["learner"]["params"]
    assert (params["final_stage"], params["n_trees"]) == ("forest", 40)
    assert params["booster"]["learning_rate"] == 0.1
    assert manifest["intervals"]["kind"] == "confidence"
    assert json.loads(done.stdout)["intervals"] == {"level": 0.9, "kind": "confidence"}
    bad = tmp_path / "bad"
    done = runner.invoke(app, [*args[:-3], "--set", "bogus=1", "--out", str(bad)])
    assert done.exit_code == 2
    assert "'bogus' is not a setting of r_learner" in done.output
    assert not bad.exists()
