"""The same commands against a real S3 endpoint (moto's server on 127.0.0.1)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app
from uplift_engine.config.settings import Settings
from uplift_engine.lake import read_table, resolve, write_table
from uplift_engine.learn import load_bundle

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_train_and_score_on_s3(s3_server, campaign_table, tmp_path):
    settings = Settings(s3_endpoint_url=s3_server)
    data = read_table(campaign_table).slice(0, 6_000)
    write_table(data, "s3://bank-lake/campaigns/c1.parquet", settings)

    done = runner.invoke(
        app,
        [
            "train",
            "s3://bank-lake/campaigns/c1.parquet",
            "--treatment",
            "arm",
            "--control",
            "control",
            "--outcome",
            "converted",
            "--exclude",
            "revenue",
            "--learner",
            "t_learner",
            "--out",
            "s3://bank-lake/models/m1",
        ],
    )
    assert done.exit_code == 0, done.output
    bundle = resolve("s3://bank-lake/models/m1", settings)
    names = sorted(f.uri.rsplit("/", 1)[-1] for f in bundle.list_files())
    # on S3 model files are named by their content: a replacement never overwrites them
    assert [re.sub(r"\.[0-9a-f]{12}\.txt$", ".txt", n) for n in names] == [
        "manifest.json",
        "manifest.sha256",
        "mu_0.txt",
        "mu_1.txt",
        "mu_2.txt",
        "mu_3.txt",
    ]
    first = load_bundle("s3://bank-lake/models/m1", settings).manifest["model_files"]

    done = runner.invoke(
        app,
        ["train", "s3://bank-lake/campaigns/c1.parquet", "--treatment", "arm", "--control",
         "control", "--outcome", "converted", "--exclude", "revenue", "--learner", "t_learner",
         "--set", "n_estimators=30", "--out", "s3://bank-lake/models/m1", "--overwrite"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    second = load_bundle("s3://bank-lake/models/m1", settings).manifest["model_files"]
    assert set(first.values()).isdisjoint(second.values())
    left = sorted(f.uri.rsplit("/", 1)[-1] for f in bundle.list_files())
    assert len(left) == 6  # the replaced bundle's files are gone

    done = runner.invoke(
        app,
        [
            "score",
            "s3://bank-lake/models/m1",
            "s3://bank-lake/campaigns/c1.parquet",
            "--out",
            str(tmp_path / "scores.parquet"),
        ],
    )
    assert done.exit_code == 0, done.output
    scores = pq.read_table(tmp_path / "scores.parquet")
    local = load_bundle("s3://bank-lake/models/m1", settings)
    expected = local.predict_levels({n: data.column(n) for n in local.encoder.names})
    np.testing.assert_allclose(scores.column("pred_control").to_numpy(), expected[:, 0], atol=1e-12)


def test_missing_s3_object_is_a_clear_error(s3_server, tmp_path):
    done = runner.invoke(
        app,
        [
            "score",
            "s3://bank-lake/models/none",
            "s3://bank-lake/x.parquet",
            "--out",
            str(tmp_path / "s.parquet"),
        ],
    )
    assert done.exit_code == 2
    assert "s3://bank-lake/models/none" in done.stderr
