"""Point in time: data from at or after a customer's assignment never reaches the training set.

On a simulated bank (every customer with their own assignment time), events planted at the
assignment time, a microsecond after it and later leave the built table unchanged — on both
engines — while one planted a microsecond before it changes exactly the features it should.
And ``uplift features build`` keeps a row for every assignment, history or not.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from test_features import DAY, customers_table, events_table
from test_spark_engine import assert_same_table, spark  # noqa: F401 - the session fixture
from uplift_engine.cli.features_offline import build
from uplift_engine.config.settings import Settings
from uplift_engine.features import CAMPAIGN_FEATURES
from uplift_engine.features.offline.engines import build_training_sets
from uplift_engine.lake import layout, read_table

CAMPAIGN = "c2026q4"
TYPES = layout.EVENT_TYPES
AFTER = (0, 1, 3_600_000_000, 20 * DAY)  # at t, 1 µs, 1 h and 20 days after
NEWCOMER = 10**9  # a customer assigned without any event before the assignment


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    """1,500 simulated customers; assignment times spread over the campaign's days."""
    from uplift_engine.simulate import SimulationConfig, simulate_bank

    root = tmp_path_factory.mktemp("pit") / "lake"
    simulate_bank(SimulationConfig(customers=1500, block_size=500, seed=5), str(root), workers=1)
    return root


@pytest.fixture(scope="module")
def baseline(bank: Path, tmp_path_factory) -> pa.Table:
    out = tmp_path_factory.mktemp("pit") / "baseline"
    build_training_sets(str(bank), [CAMPAIGN], Settings(), engine="duckdb", out_uris=[str(out)])
    return read_table(out)


def _assignments(lake: Path) -> tuple[np.ndarray, np.ndarray]:
    table = read_table(lake / layout.ASSIGNMENTS)
    ids = np.asarray(table.column("customer_id"))
    at = np.asarray(table.column("assigned_at").cast(pa.int64()))
    return ids, at


def _plant(lake: Path, name: str, ids: np.ndarray, ts: np.ndarray, kinds: np.ndarray) -> None:
    """An extra events part: the given events, with huge amounts where the type has one."""
    amounts = [1e9 if k in ("transfer", "card_txn") else None for k in kinds]
    first = 5 * 10**12 + 10**9 * len(list((lake / layout.EVENTS).glob("*.parquet")))
    table = events_table(ids, kinds, ts, amounts, first_id=first)
    pq.write_table(table, lake / layout.EVENTS / f"{name}.parquet")


def _with_future_events(bank: Path, tmp: Path) -> Path:
    lake = tmp / "lake"
    shutil.copytree(bank, lake)
    ids, at = _assignments(lake)
    n = len(ids) * len(TYPES) * len(AFTER)
    grid_ids = np.repeat(ids, len(TYPES) * len(AFTER))
    grid_at = np.repeat(at, len(TYPES) * len(AFTER))
    kinds = np.tile(np.repeat(np.array(TYPES), len(AFTER)), len(ids))
    offsets = np.tile(np.array(AFTER), len(ids) * len(TYPES))
    assert grid_ids.size == kinds.size == offsets.size == n
    _plant(lake, "part-80000", grid_ids, grid_at + offsets, kinds)
    return lake


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_events_at_or_after_assignment_never_leak(
    request, bank: Path, baseline: pa.Table, tmp_path: Path, engine: str
) -> None:
    session = request.getfixturevalue("spark") if engine == "spark" else None
    lake = _with_future_events(bank, tmp_path)
    _, (summary,) = build_training_sets(
        str(lake),
        [CAMPAIGN],
        Settings(),
        engine=engine,
        out_uris=[str(tmp_path / "out")],
        spark=session,
    )
    planted = read_table(summary.path)
    assert summary.quarantined["events"] == 0
    assert planted.num_rows == baseline.num_rows == 1500
    if engine == "duckdb":
        assert planted.equals(baseline)  # not a bit changed
    else:
        assert_same_table(planted, baseline)


def test_an_event_one_microsecond_before_assignment_counts(
    bank: Path, baseline: pa.Table, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(bank, lake)
    ids, at = _assignments(lake)
    _plant(lake, "part-80001", ids, at - 1, np.array(["login"] * len(ids)))
    _, (summary,) = build_training_sets(str(lake), [CAMPAIGN], Settings(), engine="duckdb")
    after = read_table(summary.path)
    for name in ("logins_7d", "logins_30d", "events_30d"):
        delta = np.asarray(after.column(name)) - np.asarray(baseline.column(name))
        assert np.all(delta == 1), name
    assert np.allclose(np.asarray(after.column("days_since_last_login")), 1 / DAY, rtol=1e-9)
    unchanged = np.asarray(after.column("card_txn_30d")) - np.asarray(
        baseline.column("card_txn_30d")
    )
    assert not unchanged.any()


# ---------------------------------------------------------------------------------------------
# uplift features build
# ---------------------------------------------------------------------------------------------

app = typer.Typer()
app.command("build")(build)


@app.callback()
def _group() -> None:
    """The features commands, as the lead mounts them under ``uplift features``."""


def _with_a_newcomer(bank: Path, tmp: Path) -> tuple[Path, int]:
    """The bank plus a customer assigned with only events after, or long before, assignment."""
    lake = tmp / "lake"
    shutil.copytree(bank, lake)
    ids, at = _assignments(lake)
    t = int(at[0])
    pq.write_table(customers_table([NEWCOMER]), lake / layout.CUSTOMERS / "part-80000.parquet")
    newcomer = pa.array([NEWCOMER], pa.int64())
    for dataset in (layout.ASSIGNMENTS, layout.OUTCOMES):  # a copy of the first row, re-keyed
        row = read_table(lake / dataset).slice(0, 1).set_column(1, "customer_id", newcomer)
        pq.write_table(row, lake / dataset / "part-80000.parquet")
    offsets = np.array([0, 1, DAY, -(30 * DAY) - 1, -(60 * DAY)])
    _plant(lake, "part-80002", np.full(5, NEWCOMER), t + offsets, np.array(TYPES))
    return lake, len(ids) + 1


def test_build_keeps_a_row_for_a_customer_without_history(bank: Path, tmp_path: Path) -> None:
    lake, assignments = _with_a_newcomer(bank, tmp_path)
    out = tmp_path / "table"
    result = CliRunner().invoke(
        app,
        ["build", "--campaign", CAMPAIGN, "--lake", str(lake), "--engine", "duckdb",
         "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["engine"] == "duckdb"
    assert summary["reason"] == "duckdb requested"
    (table_summary,) = summary["campaign_tables"]
    assert table_summary["rows"] == assignments
    table = read_table(out)
    assert table.num_rows == assignments
    row = {r["customer_id"]: r for r in table.to_pylist()}[NEWCOMER]
    for spec in CAMPAIGN_FEATURES:
        assert row[spec.name] == spec.empty_value, spec.name


def test_build_chooses_duckdb_for_a_small_lake(bank: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(bank, lake)
    result = CliRunner().invoke(app, ["build", "--campaign", CAMPAIGN, "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    assert "Engine: duckdb (events are " in result.stdout
    assert "within spark_threshold_bytes" in result.stdout
    assert "Campaign table c2026q4: 1,500 rows, 28 features" in result.stdout  # 17 + 7 + 4
    assert list((lake / layout.campaign_table_path(CAMPAIGN)).glob("_manifest.*.json"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--campaign", "c9"], r"campaign 'c9' is not in raw/campaigns; .*'c2026q4'",
            id="unknown-campaign",
        ),
        pytest.param(
            ["--campaign", CAMPAIGN, "--engine", "polars"],
            "engine must be one of auto, duckdb, spark, got 'polars'", id="unknown-engine",
        ),
        pytest.param(
            ["--campaign", CAMPAIGN, "--campaign", "c2", "--out", "x"],
            "--out takes one campaign, got 2", id="out-with-two-campaigns",
        ),
    ],
)  # fmt: skip
def test_build_errors_exit_2_with_one_line(bank: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["build", "--lake", str(bank), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert re.search(message, result.stderr)
