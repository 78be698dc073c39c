"""The campaign table: point-in-time features from declared specs, on lakes written here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakefiles import names, untag
from uplift_engine.errors import ConfigError, DataError
from uplift_engine.features import (
    CAMPAIGN_FEATURES,
    EVENTS,
    FeatureSpec,
    markdown_table,
    parse_window,
)
from uplift_engine.features.offline import (
    TABLE_FEATURES,
    build_campaign_table,
    build_campaign_tables,
    campaign_table_schema,
    feature_query,
)
from uplift_engine.lake import layout, read_table

US = 1
SECOND = 1_000_000
DAY = 86_400 * SECOND
T0 = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * SECOND
ARMS = ("control", "cashback", "fee_waiver")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "features.md"


# ---------------------------------------------------------------------------------------------
# A small lake written with the layout's schemas
# ---------------------------------------------------------------------------------------------


def _ts(values: list[int] | np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64()).cast(layout.TIMESTAMP)


def customers_table(ids: list[int] | np.ndarray) -> pa.Table:
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    return pa.table(
        {
            "customer_id": ids,
            "age": (30 + ids % 40).astype(np.int16),
            "income_m_vnd": 10.0 + ids,
            "tenure_months": (ids % 100).astype(np.int16),
            "segment": ["mass"] * n,
            "region": ["south"] * n,
            "preferred_channel": ["app"] * n,
            "products_held": (1 + ids % 4).astype(np.int8),
            "balance_m_vnd": 5.0 * ids,
            "biometric_enrolled": ids % 2 == 0,
        },
        schema=layout.CUSTOMERS_SCHEMA,
    )


def campaigns_table(campaign_id: str = "c1", arms: tuple[str, ...] = ARMS) -> pa.Table:
    n = len(arms)
    return pa.table(
        {
            "campaign_id": [campaign_id] * n,
            "arm": list(arms),
            "is_control": [a == "control" for a in arms],
            "share": [1.0 / n] * n,
            "starts_at": _ts([T0] * n),
            "outcome_days": pa.array([14] * n, pa.int16()),
        },
        schema=layout.CAMPAIGNS_SCHEMA,
    )


def assignments_table(ids, assigned_at, arms, campaign_id: str = "c1") -> pa.Table:
    """Assignments as an older writer wrote them: without the optional ``channel`` column."""
    return pa.table(
        {
            "campaign_id": [campaign_id] * len(ids),
            "customer_id": np.asarray(ids, dtype=np.int64),
            "assigned_at": _ts(assigned_at),
            "arm": list(arms),
        },
        schema=pa.schema([f for f in layout.ASSIGNMENTS_SCHEMA if f.name != "channel"]),
    )


def outcomes_table(ids, converted, revenue, campaign_id: str = "c1") -> pa.Table:
    return pa.table(
        {
            "campaign_id": [campaign_id] * len(ids),
            "customer_id": np.asarray(ids, dtype=np.int64),
            "converted": np.asarray(converted, dtype=np.int8),
            "revenue": np.asarray(revenue, dtype=np.float64),
        },
        schema=layout.OUTCOMES_SCHEMA,
    )


def events_table(customer_ids, types, ts, amounts, first_id: int = 0) -> pa.Table:
    n = len(customer_ids)
    return pa.table(
        {
            "event_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "customer_id": np.asarray(customer_ids, dtype=np.int64),
            "type": list(types),
            "ts": _ts(ts),
            "amount": pa.array(amounts, pa.float64()),
        },
        schema=layout.EVENTS_SCHEMA,
    )


def write_lake(root: Path, **tables: pa.Table | list[pa.Table]) -> str:
    """Write each dataset (``customers=``, ``events=``, …) as part files under ``root``."""
    paths = {
        "customers": layout.CUSTOMERS,
        "events": layout.EVENTS,
        "campaigns": layout.CAMPAIGNS,
        "assignments": layout.ASSIGNMENTS,
        "outcomes": layout.OUTCOMES,
    }
    for name, parts in tables.items():
        folder = root / paths[name]
        folder.mkdir(parents=True, exist_ok=True)
        for index, part in enumerate(parts if isinstance(parts, list) else [parts]):
            pq.write_table(part, folder / layout.part_name(index))
    return str(root)


def one_customer_lake(root: Path, events: pa.Table, assigned_at: int = T0) -> str:
    """Customer 1 assigned to cashback at ``assigned_at``, customer 2 without any event."""
    return write_lake(
        root,
        customers=customers_table([1, 2]),
        campaigns=campaigns_table(),
        assignments=assignments_table([1, 2], [assigned_at, assigned_at], ["cashback", "control"]),
        outcomes=outcomes_table([1, 2], [1, 0], [120.0, 0.0]),
        events=events,
    )


def built(lake: str, campaign: str = "c1") -> dict[int, dict[str, object]]:
    summary = build_campaign_table(lake, campaign, memory_limit="1GB")
    rows = read_table(summary.path).to_pylist()
    return {int(r["customer_id"]): r for r in rows}


# ---------------------------------------------------------------------------------------------
# Point in time and window edges
# ---------------------------------------------------------------------------------------------


def test_events_at_or_after_assignment_never_count(tmp_path: Path) -> None:
    events = events_table(
        [1, 1, 1, 1],
        ["login", "login", "login", "card_txn"],
        [T0 - 1, T0, T0 + 1, T0 + DAY],
        [None, None, None, 999.0],
    )
    rows = built(one_customer_lake(tmp_path, events))
    first = rows[1]
    assert first["logins_7d"] == 1
    assert first["logins_30d"] == 1
    assert first["events_30d"] == 1
    assert first["card_txn_30d"] == 0
    assert first["card_amount_30d"] == 0.0
    assert first["card_amount_max_30d"] is None
    assert first["days_since_last_login"] == pytest.approx(1 / DAY, rel=1e-9)
    assert first["active_days_30d"] == 1


@pytest.mark.parametrize(
    ("offset", "in_7d", "in_30d"),
    [
        pytest.param(7 * DAY, 1, 1, id="exactly-7d-before-counts-in-7d"),
        pytest.param(7 * DAY + 1, 0, 1, id="just-over-7d-only-in-30d"),
        pytest.param(30 * DAY, 0, 1, id="exactly-30d-before-counts"),
        pytest.param(30 * DAY + 1, 0, 0, id="just-over-30d-counts-nowhere"),
        pytest.param(1, 1, 1, id="1us-before-counts"),
    ],
)
def test_window_is_half_open(tmp_path: Path, offset: int, in_7d: int, in_30d: int) -> None:
    events = events_table([1], ["transfer"], [T0 - offset], [50.0])
    first = built(one_customer_lake(tmp_path, events))[1]
    assert (first["transfers_7d"], first["transfers_30d"]) == (in_7d, in_30d)
    assert first["transfer_amount_30d"] == 50.0 * in_30d
    assert first["active_days_30d"] == in_30d


@pytest.mark.parametrize(
    ("offsets", "days"),
    [
        pytest.param([1, DAY], 1, id="both-in-the-first-24h"),
        pytest.param([DAY, DAY + 1], 2, id="24h-boundary-splits"),
        pytest.param([30 * DAY, 29 * DAY, 5], 3, id="first-last-and-oldest-periods"),
    ],
)
def test_active_days_counts_24h_periods_before_assignment(
    tmp_path: Path, offsets: list[int], days: int
) -> None:
    n = len(offsets)
    events = events_table([1] * n, ["login"] * n, [T0 - o for o in offsets], [None] * n)
    assert built(one_customer_lake(tmp_path, events))[1]["active_days_30d"] == days


def test_customer_without_history_keeps_a_row_with_empty_values(tmp_path: Path) -> None:
    events = events_table([1], ["login"], [T0 - DAY], [None])
    lake = one_customer_lake(tmp_path, events)
    summary = build_campaign_table(lake, "c1")
    table = read_table(summary.path)
    assert summary.rows == table.num_rows == 2
    second = {r["customer_id"]: r for r in table.to_pylist()}[2]
    for spec in CAMPAIGN_FEATURES:
        assert second[spec.name] == spec.empty_value, spec.name
    assert second["arm"] == "control"


# ---------------------------------------------------------------------------------------------
# Values against a hand computation
# ---------------------------------------------------------------------------------------------


def _expected(spec: FeatureSpec, t: int, ts, types, amounts) -> float | int | None:
    d = t - ts
    mask = (d > 0) & (d <= spec.window_us)
    if spec.event_type is not None:
        mask &= types == spec.event_type
    values = amounts[mask & ~np.isnan(amounts)]  # SQL aggregates skip nulls
    match spec.aggregation:
        case "count":
            return int(mask.sum())
        case "sum":
            return float(values.sum())
        case "avg":
            return float(values.mean()) if values.size else None
        case "max":
            return float(values.max()) if values.size else None
        case "min":
            return float(values.min()) if values.size else None
        case "days_since":
            return float(d[mask].min() / DAY) if mask.any() else None
        case "active_days":
            return len(np.unique((d[mask] - 1) // DAY))
    raise AssertionError(spec.aggregation)


EXTRA = (
    FeatureSpec("card_amount_min_7d", EVENTS, "min", "7d", "card_txn", "amount"),
    FeatureSpec("amount_sum_any_12h", EVENTS, "sum", "12h", None, "amount"),
    FeatureSpec("logins_36h", EVENTS, "count", "36h", "login"),
    FeatureSpec("active_days_2d", EVENTS, "active_days", "2d", "login"),
    FeatureSpec("days_since_transfer_90s", EVENTS, "days_since", "90s", "transfer"),
    FeatureSpec("openings_45d", EVENTS, "count", "45d", "account_opening"),
)


def test_features_match_a_numpy_computation_on_a_random_lake(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n, m = 120, 6000
    ids = np.arange(1, n + 1)
    assigned = T0 + rng.integers(0, 3 * DAY, n)
    owner = rng.integers(1, n + 6, m)  # ids above n: events of customers not in the campaign
    ts = T0 + rng.integers(-40 * DAY, 4 * DAY, m)
    # a few events exactly on the edges
    ts[:40] = assigned[owner[:40] % n] - np.array([0, 30 * DAY, 7 * DAY, 1] * 10)
    owner[:40] = owner[:40] % n + 1
    kinds = np.array(layout.EVENT_TYPES)[rng.integers(0, len(layout.EVENT_TYPES), m)]
    has_amount = np.isin(kinds, ["transfer", "card_txn"])
    amounts = np.where(has_amount, rng.integers(1, 5000, m).astype(float), np.nan)
    order = np.argsort(owner, kind="stable")
    halves = np.array_split(order, 2)
    lake = write_lake(
        tmp_path,
        customers=customers_table(ids),
        campaigns=campaigns_table(),
        assignments=assignments_table(ids, assigned, rng.choice(ARMS, n)),
        outcomes=outcomes_table(ids, ids % 2, np.where(ids % 2 == 1, 10.0 * ids, 0.0)),
        events=[
            events_table(
                owner[h],
                kinds[h],
                ts[h],
                [None if np.isnan(a) else a for a in amounts[h]],
                first_id=int(i * m),
            )
            for i, h in enumerate(halves)
        ],
    )
    rows = built(lake)
    extra = build_campaign_table(lake, "c1", out_uri=str(tmp_path / "extra"), features=EXTRA)
    for row in read_table(extra.path).to_pylist():
        rows[int(row["customer_id"])].update(row)
    assert len(rows) == n
    for cid, t in zip(ids, assigned, strict=True):
        mine = owner == cid
        for spec in (*CAMPAIGN_FEATURES, *EXTRA):
            want = _expected(spec, int(t), ts[mine], kinds[mine], amounts[mine])
            got = rows[int(cid)][spec.name]
            if want is None:
                assert got is None, (cid, spec.name)
            else:
                assert got == pytest.approx(want, rel=1e-12), (cid, spec.name)
        assert rows[int(cid)]["revenue"] == (10.0 * cid if cid % 2 else 0.0)


# ---------------------------------------------------------------------------------------------
# The table as written
# ---------------------------------------------------------------------------------------------


def test_table_layout_schema_manifest_and_summary(tmp_path: Path) -> None:
    events = events_table([1, 2], ["login", "card_txn"], [T0 - DAY, T0 - 2 * DAY], [None, 80.0])
    lake = one_customer_lake(tmp_path, events)
    summary = build_campaign_table(lake, "c1")
    folder = Path(lake) / layout.campaign_table_path("c1")
    assert Path(summary.path) == folder
    assert names(folder) == ["_manifest.json", "part-00000.parquet"]
    table = pq.read_table(folder)  # plain pyarrow skips the _manifest
    expected = campaign_table_schema()
    assert table.schema.remove_metadata().equals(expected)
    assert {"campaign_id", "assigned_at"}.isdisjoint(table.column_names)
    assert not [c for c in table.column_names if c.startswith(("true_", "type_"))]
    assert table.column("customer_id").to_pylist() == [1, 2]
    meta = json.loads(table.schema.metadata[b"uplift"])
    assert meta["schema_version"] == "uplift.campaign_table/1"
    assert meta["control"] == "control"
    manifest = json.loads(next(folder.glob("_manifest.*.json")).read_text())
    assert manifest["roles"]["outcomes"] == ["converted", "revenue"]
    assert manifest["rows"] == 2
    assert [f["name"] for f in manifest["features"]] == [s.name for s in TABLE_FEATURES]
    assert [f["from"] for f in manifest["request_features"]] == [
        "raw/campaign_assignments.channel", *["raw/campaign_assignments.assigned_at"] * 3
    ]
    # no channel column in these assignments (an older writer): null, the hours from assigned_at
    assert table.column("session_channel").to_pylist() == [None, None]
    assert table.column("hour_of_day_utc").to_pylist() == [0, 0]  # T0 is midnight UTC
    assert summary.columns == tuple(expected.names)
    assert summary.arms == ("cashback", "control", "fee_waiver")
    assert summary.control == "control"
    assert summary.quarantined == {
        "customers": 0,
        "campaigns": 0,
        "campaign_assignments": 0,
        "campaign_outcomes": 0,
        "events": 0,
    }
    assert summary.to_dict()["rows"] == 2


def test_rebuild_replaces_the_table_with_the_same_bytes(tmp_path: Path) -> None:
    events = events_table([1], ["login"], [T0 - DAY], [None])
    lake = one_customer_lake(tmp_path, events)
    folder = Path(lake) / layout.campaign_table_path("c1")
    build_campaign_table(lake, "c1")
    first = [p.read_bytes() for p in folder.glob("part-*.parquet")]
    build_campaign_table(lake, "c1")
    assert [p.read_bytes() for p in folder.glob("part-*.parquet")] == first


def test_out_uri_and_second_campaign(tmp_path: Path) -> None:
    lake = write_lake(
        tmp_path / "lake",
        customers=customers_table([1, 2, 3]),
        campaigns=[campaigns_table("c1"), campaigns_table("c2", ("control", "bonus"))],
        assignments=[
            assignments_table([1, 2], [T0, T0], ["cashback", "control"], "c1"),
            assignments_table([2, 3], [T0 + DAY, T0 + DAY], ["bonus", "control"], "c2"),
        ],
        outcomes=[
            outcomes_table([1, 2], [0, 0], [0.0, 0.0], "c1"),
            outcomes_table([2, 3], [1, 0], [5.0, 0.0], "c2"),
        ],
        events=events_table([2], ["login"], [T0 + 1], [None]),
    )
    out = tmp_path / "elsewhere" / "c2"
    summary = build_campaign_table(lake, "c2", out_uri=str(out))
    table = read_table(str(out))
    assert summary.rows == 2
    assert table.column("customer_id").to_pylist() == [2, 3]
    assert table.column("arm").to_pylist() == ["bonus", "control"]
    assert table.column("logins_30d").to_pylist() == [1, 0]  # after c1's time, before c2's
    assert summary.arms == ("bonus", "control")


def test_several_campaigns_are_built_after_one_validation(tmp_path: Path) -> None:
    lake = write_lake(
        tmp_path,
        customers=customers_table([1, 2, 3]),
        campaigns=[campaigns_table("c1"), campaigns_table("c2", ("control", "bonus"))],
        assignments=[
            assignments_table([1, 2], [T0, T0], ["cashback", "control"], "c1"),
            assignments_table([1, 2, 3], [T0 + DAY] * 3, ["bonus", "control", "bonus"], "c2"),
        ],
        outcomes=[
            outcomes_table([1, 2], [0, 0], [0.0, 0.0], "c1"),
            outcomes_table([1, 2, 3], [1, 0, 0], [5.0, 0.0, 0.0], "c2"),
        ],
        events=events_table([1, 1], ["login", "login"], [T0 - DAY, T0 + 1], [None, None]),
    )
    with pytest.raises(DataError, match="campaign 'c3' is not in raw/campaigns"):
        build_campaign_tables(lake, ["c1", "c3"])
    assert not (Path(lake) / layout.CAMPAIGN_TABLES).exists()
    first, second = build_campaign_tables(lake, ["c1", "c2"])
    assert (first.rows, second.rows) == (2, 3)
    logins = {
        s.campaign_id: read_table(s.path).column("logins_30d").to_pylist() for s in (first, second)
    }
    assert logins == {"c1": [1, 0], "c2": [2, 0, 0]}


def test_bad_rows_are_left_out_and_counted(tmp_path: Path) -> None:
    events = events_table(
        [1, 1, 1, 1],
        ["transfer", "transfer", "teleport", "transfer"],
        [T0 - DAY, T0 - DAY, T0 - DAY, T0 - DAY],
        [100.0, -5.0, 1.0, None],
    )
    first = built(one_customer_lake(tmp_path, events))[1]
    assert first["transfers_30d"] == 1
    assert first["transfer_amount_30d"] == 100.0
    summary = build_campaign_table(one_customer_lake(tmp_path, events), "c1")
    assert summary.quarantined["events"] == 3


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_unknown_campaign_lists_the_campaigns_present(tmp_path: Path) -> None:
    lake = one_customer_lake(tmp_path, events_table([1], ["login"], [T0 - DAY], [None]))
    with pytest.raises(DataError, match=r"campaign 'c9' is not in raw/campaigns; .*'c1'"):
        build_campaign_table(lake, "c9")
    assert not (Path(lake) / layout.campaign_table_path("c9")).exists()


def test_campaign_without_a_control_arm_is_refused(tmp_path: Path) -> None:
    lake = write_lake(
        tmp_path,
        customers=customers_table([1]),
        campaigns=campaigns_table("c1", ("cashback", "bonus")),
        assignments=assignments_table([1], [T0], ["cashback"]),
        outcomes=outcomes_table([1], [0], [0.0]),
        events=events_table([1], ["login"], [T0 - DAY], [None]),
    )
    with pytest.raises(DataError, match=r"has 0 control arms .* expected exactly one"):
        build_campaign_table(lake, "c1")


def test_campaign_whose_assignments_are_all_bad_is_refused(tmp_path: Path) -> None:
    lake = write_lake(
        tmp_path,
        customers=customers_table([1]),
        campaigns=campaigns_table(),
        assignments=assignments_table([1], [T0], ["mystery"]),
        outcomes=outcomes_table([1], [0], [0.0]),
        events=events_table([1], ["login"], [T0 - DAY], [None]),
    )
    with pytest.raises(DataError, match=r"no valid assignment .* 1 rows are quarantined"):
        build_campaign_table(lake, "c1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"window": "30"}, "window must be", id="window-without-unit"),
        pytest.param({"window": "0d"}, "window must be", id="zero-window"),
        pytest.param({"aggregation": "median"}, "aggregation must be one of", id="unknown-agg"),
        pytest.param({"aggregation": "avg"}, "avg needs a value column", id="avg-no-value"),
        pytest.param({"value": "amount"}, "count takes no value column", id="count-with-value"),
        pytest.param(
            {"aggregation": "active_days", "window": "90d"}, "up to 63d", id="active-days-90d"
        ),
        pytest.param({"name": "Logins 7d"}, "lower_snake_case", id="bad-name"),
    ],
)
def test_feature_specs_are_checked(kwargs: dict[str, str], message: str) -> None:
    spec = {"name": "logins_x", "source": EVENTS, "aggregation": "count", "window": "7d"}
    with pytest.raises(ConfigError, match=message):
        FeatureSpec(**{**spec, **kwargs})


def test_repeated_feature_names_are_refused() -> None:
    spec = CAMPAIGN_FEATURES[0]
    with pytest.raises(ConfigError, match="defined twice"):
        feature_query([spec, spec], "entities", {"events": "valid_events"})


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        pytest.param("30d", 30 * DAY, id="days"),
        pytest.param("12h", 12 * 3600 * SECOND, id="hours"),
        pytest.param("5m", 300 * SECOND, id="minutes"),
        pytest.param("90s", 90 * SECOND, id="seconds"),
    ],
)
def test_parse_window(text: str, micros: int) -> None:
    assert parse_window(text) == micros


def test_docs_hold_the_generated_feature_table() -> None:
    assert markdown_table() in DOCS.read_text()


# ---------------------------------------------------------------------------------------------
# With the simulator
# ---------------------------------------------------------------------------------------------


def test_simulated_lake_builds_one_row_per_assignment(tmp_path: Path) -> None:
    simulate = pytest.importorskip("uplift_engine.simulate")
    config = simulate.SimulationConfig(customers=2000, block_size=500, seed=3)
    result = simulate.simulate_bank(config, str(tmp_path), workers=1)
    campaign = config.campaigns[0].campaign_id
    summary = build_campaign_table(str(tmp_path), campaign)
    assigned = result.rows[layout.ASSIGNMENTS]
    assert summary.rows == assigned == 2000
    assert sum(summary.quarantined.values()) == 0
    table = read_table(summary.path)
    assert table.num_rows == assigned
    logins = np.asarray(table.column("logins_30d"))
    week = np.asarray(table.column("logins_7d"))
    assert np.all(week <= logins)
    assert logins.mean() > 1


@pytest.mark.integration
def test_build_on_s3(s3_server: str, tmp_path: Path) -> None:
    from uplift_engine.config.settings import Settings
    from uplift_engine.lake import resolve, write_table
    from uplift_engine.lake.generations import read_current

    settings = Settings(s3_endpoint_url=s3_server)
    events = events_table(
        [1, 1, 2], ["login", "transfer", "login"], [T0 - DAY, T0 - DAY, T0 + 1], [None, -1.0, None]
    )
    local = Path(one_customer_lake(tmp_path, events))
    lake = "s3://bank-lake/lakes/features"
    for part in local.rglob("*.parquet"):
        write_table(read_table(str(part)), f"{lake}/{part.relative_to(local)}", settings)
    summary = build_campaign_table(lake, "c1", settings)
    assert summary.path == f"{lake}/curated/campaign_table/c1"
    table = read_table(summary.path, settings)
    assert table.column("logins_30d").to_pylist() == [1, 0]
    assert table.column("transfers_30d").to_pylist() == [0, 0]
    assert summary.quarantined["events"] == 1
    bad = read_table(f"{lake}/quarantine/events", settings)
    assert bad.column("_reason").to_pylist() == ["amount: negative"]
    current = read_current(resolve(lake, settings))
    files = current["datasets"]["curated/campaign_table/c1"]["files"]
    assert [untag(f) for f in files] == ["_manifest.json", "part-00000.parquet"]
    assert all(resolve(f"{summary.path}/{f}", settings).exists() for f in files)
