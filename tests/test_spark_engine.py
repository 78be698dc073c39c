"""The Spark tier: the same campaign table and quarantine as DuckDB, from the same specs."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import require
from test_features import ARMS, DAY, EXTRA, T0, events_table, one_customer_lake, write_lake
from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError, DataError, UserInputError
from uplift_engine.features import CAMPAIGN_FEATURES, EventSource, FeatureSpec
from uplift_engine.features.offline.engines import build_training_sets, choose_engine, input_bytes
from uplift_engine.lake import layout, read_table
from uplift_engine.lake.quality import CHECKS

CAMPAIGN = "c2026q4"
HAS_PYSPARK = importlib.util.find_spec("pyspark") is not None


# ---------------------------------------------------------------------------------------------
# Fixtures: one Spark session for the whole test run, a small simulated lake
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark():
    """Spark in local mode on 127.0.0.1, started once (reused by test_point_in_time)."""
    require(shutil.which("java") is not None, "a Java 17+ runtime", "Spark needs Java")
    require(HAS_PYSPARK, "pyspark (pip install -e '.[spark]')", "the Spark tier needs PySpark")
    from uplift_engine.features.spark import spark_session

    conf = {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"}
    session = spark_session(Settings(threads=2, spark_conf=conf), master="local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    """2,000 simulated customers, plus events on every window edge and bad and repeated rows."""
    from uplift_engine.simulate import SimulationConfig, simulate_bank

    root = tmp_path_factory.mktemp("spark") / "lake"
    simulate_bank(SimulationConfig(customers=2000, block_size=1000, seed=11), str(root), workers=1)
    assigned = read_table(root / layout.ASSIGNMENTS)
    ids = np.asarray(assigned.column("customer_id"))[:40]
    at = np.asarray(assigned.column("assigned_at").cast(pa.int64()))[:40]
    offsets = np.array([0, 1, 7 * DAY, 30 * DAY, 30 * DAY + 1, 12 * 3600 * 10**6, 90 * 10**6])
    edge_ts = (at[:, None] - offsets[None, :]).ravel()
    edge_ids = np.repeat(ids, len(offsets))
    kinds = np.array(["login", "transfer", "card_txn", "biometric_auth"])[
        np.arange(edge_ts.size) % 4
    ]
    amounts = [float(7 + i % 13) if k in ("transfer", "card_txn") else None for i, k in
               enumerate(kinds)]  # fmt: skip
    edges = events_table(edge_ids, kinds, edge_ts, amounts, first_id=10**12)
    first = pq.read_table(sorted((root / layout.EVENTS).glob("*.parquet"))[0]).slice(0, 4)
    base, at0 = int(ids[0]), int(at[0])
    bad = pa.table(
        {
            "event_id": np.arange(2 * 10**12, 2 * 10**12 + 9),
            "customer_id": pa.array([base] * 8 + [None], pa.int64()),
            "type": ["teleport", "transfer", "transfer", "card_txn", "card_txn", "login", "login",
                     "login", "login"],
            "ts": pa.array([T0 - DAY] * 5 + [at0 - 5, -(10**15), at0 - 5, at0 - 5],
                           pa.int64()).cast(layout.TIMESTAMP),
            "amount": [1.0, -5.0, None, math.nan, math.inf, math.nan, None, None, None],
        },
        schema=layout.EVENTS_SCHEMA,
    )  # fmt: skip
    repeated = pa.concat_tables(
        [first, first.set_column(4, "amount", pa.array([1.5, 2.5, 3.5, 4.5]))]
    )
    folder = root / layout.EVENTS
    pq.write_table(edges, folder / "part-90000.parquet")
    pq.write_table(bad, folder / "part-90001.parquet")
    pq.write_table(repeated, folder / "part-90002.parquet")
    return root


def assert_same_table(got: pa.Table, want: pa.Table, rel: float = 1e-9) -> None:
    """Equal schema, keys and rows; equal integers and strings; floats to ``rel`` (NaN = NaN)."""
    assert got.schema.remove_metadata().equals(want.schema.remove_metadata())
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        a, b = got.column(name), want.column(name)
        if not pa.types.is_floating(b.type):
            assert a.equals(b), name
            continue
        assert a.is_null().equals(b.is_null()), name
        x = np.asarray(a.fill_null(0.0), dtype=float)
        y = np.asarray(b.fill_null(0.0), dtype=float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), name
        finite = ~np.isnan(y)
        np.testing.assert_allclose(x[finite], y[finite], rtol=rel, atol=0, err_msg=name)


# ---------------------------------------------------------------------------------------------
# DuckDB and Spark give the same tables
# ---------------------------------------------------------------------------------------------


def test_spark_builds_the_duckdb_table_and_quarantine(spark, simulated: Path, tmp_path) -> None:
    specs = (*CAMPAIGN_FEATURES, *EXTRA)
    lake = str(simulated)
    quarantine = simulated / "quarantine" / "events"
    _, (duck,) = build_training_sets(
        lake,
        [CAMPAIGN],
        Settings(),
        engine="duckdb",
        out_uris=[str(tmp_path / "duck")],
        features=specs,
    )
    duck_bad = pq.read_table(quarantine)
    choice, (spk,) = build_training_sets(
        lake, [CAMPAIGN], Settings(), engine="spark", out_uris=[str(tmp_path / "spark")],
        features=specs, spark=spark,
    )  # fmt: skip
    spark_bad = pq.read_table(quarantine)
    assert (choice.engine, spk.engine, duck.engine) == ("spark", "spark", "duckdb")
    assert spk.rows == duck.rows == 2000
    assert spk.quarantined == duck.quarantined
    assert duck.quarantined["events"] == 15  # 7 broken rows; 4 event ids with 2 repeats each
    assert_same_table(read_table(spk.path), read_table(duck.path))
    assert_same_table(spark_bad, duck_bad, rel=0)
    reasons = sorted(duck_bad.column("_reason").to_pylist())
    assert reasons.count("event_id: duplicate event (one row kept)") == 8
    assert "amount: not finite" in reasons
    assert "customer_id: missing" in reasons
    manifest = json.loads(next((tmp_path / "spark").glob("_manifest.*.json")).read_text())
    assert manifest["engine"] == "spark"
    duck_manifest = json.loads(next((tmp_path / "duck").glob("_manifest.*.json")).read_text())
    assert manifest["quarantined"] == duck_manifest["quarantined"]


def test_spark_keeps_point_in_time_and_empty_values(spark, tmp_path: Path) -> None:
    events = events_table(
        [1, 1, 1, 1, 1],
        ["login", "login", "login", "card_txn", "transfer"],
        [T0 - 1, T0, T0 + 1, T0 + DAY, T0 - 7 * DAY],
        [None, None, None, 999.0, 50.0],
    )
    lake = one_customer_lake(tmp_path, events)
    _, (summary,) = build_training_sets(lake, ["c1"], Settings(), engine="spark", spark=spark)
    rows = {r["customer_id"]: r for r in read_table(summary.path).to_pylist()}
    assert (rows[1]["logins_7d"], rows[1]["events_30d"], rows[1]["transfers_7d"]) == (1, 2, 1)
    assert rows[1]["card_txn_30d"] == 0 and rows[1]["card_amount_max_30d"] is None
    assert rows[1]["days_since_last_login"] == pytest.approx(1 / DAY, rel=1e-9)
    assert rows[1]["active_days_30d"] == 2
    for spec in CAMPAIGN_FEATURES:
        assert rows[2][spec.name] == spec.empty_value, spec.name


LOANS = EventSource(
    "loans",
    "raw/loan_events",
    event_type="kind",
    values=("principal",),
    id="loan_event_id",
    types=("disbursal", "repayment"),
    valued_types=("disbursal",),
)
LOAN_FEATURES = (
    FeatureSpec("repayments_30d", LOANS, "count", "30d", "repayment"),
    FeatureSpec("disbursed_30d", LOANS, "sum", "30d", "disbursal", "principal"),
    FeatureSpec("days_since_loan_event", LOANS, "days_since", "30d"),
)


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_declared_source_needs_no_engine_change(request, tmp_path: Path, engine: str) -> None:
    session = request.getfixturevalue("spark") if engine == "spark" else None
    lake = one_customer_lake(tmp_path, events_table([1], ["login"], [T0 - DAY], [None]))
    loans = pa.table(
        {
            "loan_event_id": [1, 2, 3, 4, 5],
            "customer_id": [1, 1, 1, 1, 1],
            "kind": ["disbursal", "repayment", "repayment", "disbursal", "disbursal"],
            "ts": pa.array([T0 - DAY, T0 - 1, T0, T0 - DAY, T0 - 31 * DAY], pa.int64()).cast(
                layout.TIMESTAMP
            ),
            "principal": [1000.0, None, None, -5.0, 70.0],
        }
    )
    (tmp_path / "raw/loan_events").mkdir(parents=True)
    pq.write_table(loans, tmp_path / "raw/loan_events/part-00000.parquet")
    _, (summary,) = build_training_sets(
        lake, ["c1"], Settings(), engine=engine, features=LOAN_FEATURES, spark=session
    )
    rows = {r["customer_id"]: r for r in read_table(summary.path).to_pylist()}
    assert summary.quarantined["src_loans"] == 1  # the negative principal
    assert (rows[1]["repayments_30d"], rows[1]["disbursed_30d"]) == (1, 1000.0)
    assert rows[1]["days_since_loan_event"] == pytest.approx(1 / DAY, rel=1e-9)
    assert (rows[2]["repayments_30d"], rows[2]["disbursed_30d"]) == (0, 0.0)
    assert rows[2]["days_since_loan_event"] is None
    bad = read_table(tmp_path / "quarantine/src_loans")
    assert bad.column("_reason").to_pylist() == ["principal: negative"]


def test_spark_refuses_a_broken_writer(spark, tmp_path: Path) -> None:
    table = pa.table(
        {
            "event_id": [1],
            "customer_id": [1],
            "type": ["login"],
            "ts": ["2026-02-28T00:00:00Z"],
            "amount": pa.array([None], pa.float64()),
        }
    )
    lake = write_lake(
        tmp_path,
        **{k: v for k, v in _lake_tables().items() if k != "events"},
        events=table,
    )
    with pytest.raises(DataError, match=r"raw/events column 'ts' has Spark type string"):
        build_training_sets(lake, ["c1"], Settings(), engine="spark", spark=spark)


def _lake_tables() -> dict[str, pa.Table]:
    from test_features import assignments_table, campaigns_table, customers_table, outcomes_table

    return {
        "customers": customers_table([1]),
        "campaigns": campaigns_table(),
        "assignments": assignments_table([1], [T0], [ARMS[1]]),
        "outcomes": outcomes_table([1], [0], [0.0]),
    }


@pytest.mark.slow
def test_the_job_runs_under_spark_submit(spark, simulated: Path, tmp_path: Path) -> None:
    submit = Path(sys.executable).parent / "spark-submit"
    require(submit.exists(), "pyspark (its bin/spark-submit)", "spark-submit is needed")
    job = Path(__file__).resolve().parents[1] / "src/uplift_engine/features/spark/job.py"
    out = tmp_path / "submitted"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    local = ["spark.ui.enabled=false", "spark.driver.host=127.0.0.1",
             "spark.driver.bindAddress=127.0.0.1", "spark.sql.shuffle.partitions=2"]  # fmt: skip
    done = subprocess.run(
        [str(submit), "--master", "local[1]", *(x for c in local for x in ("--conf", c)), str(job),
         "--lake", str(simulated), "--campaign", CAMPAIGN, "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "spark"
    assert summary["campaign_tables"][0]["rows"] == 2000
    _, (duck,) = build_training_sets(
        str(simulated), [CAMPAIGN], Settings(), engine="duckdb", out_uris=[str(tmp_path / "duck")]
    )
    assert_same_table(read_table(out), read_table(duck.path))


# ---------------------------------------------------------------------------------------------
# Choosing the engine
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "threshold", "engine"),
    [
        pytest.param("auto", 10**12, "duckdb", id="auto-small-input-duckdb"),
        pytest.param("auto", 0, "spark", id="auto-above-threshold-spark"),
        pytest.param("duckdb", 0, "duckdb", id="flag-duckdb-beats-size"),
        pytest.param("spark", 10**12, "spark", id="flag-spark-beats-size"),
    ],
)
def test_engine_is_chosen_by_input_size_or_flag(
    tmp_path: Path, requested: str, threshold: int, engine: str
) -> None:
    if engine == "spark" and not HAS_PYSPARK:
        pytest.skip("pyspark is not installed")
    lake = one_customer_lake(tmp_path, events_table([1], ["login"], [T0 - DAY], [None]))
    size = sum(p.stat().st_size for p in (tmp_path / layout.EVENTS).glob("*.parquet"))
    choice = choose_engine(requested, lake, Settings(spark_threshold_bytes=threshold))
    assert choice.engine == engine
    assert choice.input_bytes == input_bytes(lake) == size > 0
    if requested == "auto":
        assert f"{size:,} bytes" in choice.reason


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="engine must be one of auto, duckdb, spark, got 'x'"):
        choose_engine("x", str(tmp_path), Settings())


# ---------------------------------------------------------------------------------------------
# Translating the lake's rules, and lake paths
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "spark_sql"),
    [
        pytest.param('"event_id" IS NULL', "`event_id` IS NULL", id="quoted-identifier"),
        pytest.param(
            "\"ts\" < TIMESTAMPTZ '2000-01-01 00:00:00+00'",
            "`ts` < TIMESTAMP '2000-01-01 00:00:00+00'",
            id="timestamptz-literal",
        ),
        pytest.param(
            "NOT isfinite(amount)",
            "NOT (NOT isnan(amount) AND abs(amount) != CAST('inf' AS DOUBLE))",
            id="isfinite",
        ),
        pytest.param("type NOT IN ('a', 'b')", "type NOT IN ('a', 'b')", id="unchanged"),
    ],
)
def test_rule_conditions_translate_to_spark_sql(condition: str, spark_sql: str) -> None:
    pytest.importorskip("pyspark")
    from uplift_engine.features.spark import spark_condition

    assert spark_condition(condition) == spark_sql


def test_datasets_with_reference_rules_stay_in_duckdb() -> None:
    pytest.importorskip("pyspark")
    from uplift_engine.features.spark import validate_frame

    with pytest.raises(ConfigError, match="'campaign_assignments' has reference rules"):
        validate_frame(CHECKS["campaign_assignments"], None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        pytest.param("s3://lake/uplift/raw/events", "s3a://lake/uplift/raw/events", id="s3-to-s3a"),
        pytest.param("/data/lake/", "file:///data/lake", id="local-folder"),
    ],
)
def test_lake_uris_map_to_hadoop_paths(uri: str, path: str) -> None:
    from uplift_engine.features.spark.session import s3a_conf, spark_path

    assert spark_path(uri) == path
    conf = s3a_conf(Settings(s3_endpoint_url="http://127.0.0.1:9000"))
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
