"""Lake validation: every bad raw row is quarantined with a reason, none is dropped silently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakefiles import names, untag
from uplift_engine.errors import DataError, UserInputError
from uplift_engine.lake import layout, read_table
from uplift_engine.lake.quality import CHECKS, quarantine_path
from uplift_engine.lake.sessions import duckdb_session
from uplift_engine.lake.validate import LakeValidator

DAY = 86_400_000_000
T0 = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * 1_000_000


def _ts(values: list[int | None]) -> pa.Array:
    return pa.array(values, pa.int64()).cast(layout.TIMESTAMP)


def good_tables() -> dict[str, pa.Table]:
    """Three customers, one campaign with two arms, their outcomes and five events: all valid."""
    return {
        layout.CUSTOMERS: pa.table(
            {
                "customer_id": [1, 2, 3],
                "age": pa.array([30, 40, 50], pa.int16()),
                "income_m_vnd": [10.0, 20.0, 30.0],
                "tenure_months": pa.array([1, 2, 3], pa.int16()),
                "segment": ["mass", "affluent", "priority"],
                "region": ["north", "south", "south"],
                "preferred_channel": ["app", "web", "app"],
                "products_held": pa.array([1, 2, 3], pa.int8()),
                "balance_m_vnd": [1.0, -2.0, 3.0],
                "biometric_enrolled": [True, False, True],
            },
            schema=layout.CUSTOMERS_SCHEMA,
        ),
        layout.CAMPAIGNS: pa.table(
            {
                "campaign_id": ["c1", "c1"],
                "arm": ["control", "cashback"],
                "is_control": [True, False],
                "share": [0.5, 0.5],
                "starts_at": _ts([T0, T0]),
                "outcome_days": pa.array([14, 14], pa.int16()),
            },
            schema=layout.CAMPAIGNS_SCHEMA,
        ),
        layout.ASSIGNMENTS: pa.table(
            {
                "campaign_id": ["c1", "c1", "c1"],
                "customer_id": [1, 2, 3],
                "assigned_at": _ts([T0, T0, T0]),
                "arm": ["control", "cashback", "cashback"],
                "channel": ["app", None, "branch"],
            },
            schema=layout.ASSIGNMENTS_SCHEMA,
        ),
        layout.OUTCOMES: pa.table(
            {
                "campaign_id": ["c1", "c1", "c1"],
                "customer_id": [1, 2, 3],
                "converted": pa.array([0, 1, 0], pa.int8()),
                "revenue": [0.0, 50.0, None],
            },
            schema=layout.OUTCOMES_SCHEMA,
        ),
        layout.EVENTS: pa.table(
            {
                "event_id": [10, 11, 12, 13, 14],
                "customer_id": [1, 1, 2, 3, 3],
                "type": ["login", "transfer", "card_txn", "biometric_auth", "account_opening"],
                "ts": _ts([T0 - DAY] * 5),
                "amount": [None, 100.0, 20.0, None, None],
            },
            schema=layout.EVENTS_SCHEMA,
        ),
    }


def write(root: Path, tables: dict[str, pa.Table]) -> str:
    for path, table in tables.items():
        folder = root / path
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        pq.write_table(table, folder / layout.part_name(0))
    return str(root)


def with_row(tables: dict[str, pa.Table], path: str, **values: object) -> dict[str, pa.Table]:
    """The tables with one more row in ``path``: a copy of its first row with ``values``."""
    table = tables[path]
    row = {**table.slice(0, 1).to_pylist()[0], **values}
    extra = pa.Table.from_pylist([row], schema=table.schema)
    return {**tables, path: pa.concat_tables([table, extra])}


def validate_all(lake: str) -> dict[str, object]:
    with duckdb_session(threads=1, memory_limit="512MB") as con:
        validator = LakeValidator(con, lake)
        return {name: validator.validate(name) for name in CHECKS}


def quarantined(lake: str, name: str) -> list[dict[str, object]]:
    folder = Path(lake) / quarantine_path(name)
    return read_table(str(folder)).to_pylist() if folder.exists() else []


def test_a_valid_lake_quarantines_nothing(tmp_path: Path) -> None:
    lake = write(tmp_path, good_tables())
    results = validate_all(lake)
    for name, result in results.items():
        assert result.quarantined == 0, name
        assert result.valid == result.rows
    assert results["events"].rows == 5
    assert not (tmp_path / layout.QUARANTINE).exists()


CASES = [
    pytest.param(layout.CUSTOMERS, {"customer_id": None}, "customers", "customer_id: missing",
                 id="customer-missing-id"),
    pytest.param(layout.CUSTOMERS, {"age": 200}, "customers", "age: outside [0, 130]",
                 id="customer-age"),
    pytest.param(layout.CUSTOMERS, {"income_m_vnd": float("nan")}, "customers",
                 "income_m_vnd: negative or not finite", id="customer-income-nan"),
    pytest.param(layout.CUSTOMERS, {"age": 31}, "customers",
                 "customer_id: duplicate customer (one row kept)", id="customer-duplicate"),
    pytest.param(layout.CAMPAIGNS, {"arm": "bonus", "share": 0.0}, "campaigns",
                 "share: outside (0, 1]", id="campaign-share"),
    pytest.param(layout.ASSIGNMENTS, {"arm": "bonus", "customer_id": 4}, "campaign_assignments",
                 "customer_id: not a customer in raw/customers; arm: not an arm of the campaign "
                 "in raw/campaigns; customer_id: no outcome in raw/campaign_outcomes",
                 id="assignment-arm-customer-outcome"),
    pytest.param(layout.ASSIGNMENTS, {"campaign_id": "c7"}, "campaign_assignments",
                 "campaign_id: not a campaign in raw/campaigns; customer_id: no outcome in "
                 "raw/campaign_outcomes", id="assignment-unknown-campaign"),
    pytest.param(layout.ASSIGNMENTS, {"assigned_at": None}, "campaign_assignments",
                 "assigned_at: missing", id="assignment-missing-time"),
    pytest.param(layout.ASSIGNMENTS, {"customer_id": 4, "channel": "fax"},
                 "campaign_assignments", "channel: not one of app, web, branch, contact_center; "
                 "customer_id: not a customer in raw/customers; customer_id: no outcome in "
                 "raw/campaign_outcomes", id="assignment-bad-channel"),
    pytest.param(layout.ASSIGNMENTS, {"arm": "cashback"}, "campaign_assignments",
                 "customer_id: assigned more than once in the campaign (one kept)",
                 id="assignment-twice"),
    pytest.param(layout.OUTCOMES, {"converted": 2}, "campaign_outcomes",
                 "converted: not 0 or 1", id="outcome-not-binary"),
    pytest.param(layout.OUTCOMES, {"customer_id": 9}, "campaign_outcomes",
                 "customer_id: no assignment in raw/campaign_assignments",
                 id="outcome-without-assignment"),
    pytest.param(layout.OUTCOMES, {"customer_id": 9, "converted": 1, "revenue": None},
                 "campaign_outcomes", "revenue: missing for a converter; customer_id: no "
                 "assignment in raw/campaign_assignments", id="outcome-converter-no-revenue"),
    pytest.param(layout.OUTCOMES, {"customer_id": 9, "revenue": -1.0}, "campaign_outcomes",
                 "revenue: negative or not finite; customer_id: no assignment in "
                 "raw/campaign_assignments", id="outcome-negative-revenue"),
    pytest.param(layout.OUTCOMES, {"customer_id": 9, "revenue": 5.0}, "campaign_outcomes",
                 "revenue: positive for a non-converter; customer_id: no assignment in "
                 "raw/campaign_assignments", id="outcome-revenue-non-converter"),
    pytest.param(layout.EVENTS, {"event_id": 20, "customer_id": None}, "events",
                 "customer_id: missing", id="event-missing-customer"),
    pytest.param(layout.EVENTS, {"event_id": 20, "type": "teleport"}, "events",
                 "type: unknown event type", id="event-unknown-type"),
    pytest.param(layout.EVENTS, {"event_id": 20, "ts": None}, "events", "ts: missing",
                 id="event-null-ts"),
    pytest.param(layout.EVENTS, {"event_id": 20, "ts": datetime(1970, 1, 2, tzinfo=UTC)},
                 "events", "ts: outside [2000-01-01, 2100-01-01)", id="event-ts-1970"),
    pytest.param(layout.EVENTS, {"event_id": 20, "type": "transfer", "amount": None}, "events",
                 "amount: missing for its type", id="event-transfer-without-amount"),
    pytest.param(layout.EVENTS, {"event_id": 20, "type": "card_txn", "amount": -3.0}, "events",
                 "amount: negative", id="event-negative-amount"),
    pytest.param(layout.EVENTS, {"event_id": 20, "type": "card_txn", "amount": float("inf")},
                 "events", "amount: not finite", id="event-infinite-amount"),
    pytest.param(layout.EVENTS, {"event_id": None, "type": "bogus", "ts": None}, "events",
                 "event_id: missing; ts: missing; type: unknown event type",
                 id="event-several-reasons"),
    pytest.param(layout.EVENTS, {}, "events", "event_id: duplicate event (one row kept)",
                 id="event-exact-duplicate"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "values", "dataset", "reason"), CASES)
def test_bad_row_is_quarantined_with_its_reason(
    tmp_path: Path, path: str, values: dict[str, object], dataset: str, reason: str
) -> None:
    lake = write(tmp_path, with_row(good_tables(), path, **values))
    results = validate_all(lake)
    result = results[dataset]
    assert result.quarantined == 1
    assert result.valid == result.rows - 1
    assert result.reasons == {reason: 1}
    rows = quarantined(lake, dataset)
    assert [r["_reason"] for r in rows] == [reason]
    for other, res in results.items():
        if other != dataset:
            assert res.quarantined == 0, other


def test_quarantine_keeps_the_row_and_its_columns(tmp_path: Path) -> None:
    tables = with_row(good_tables(), layout.EVENTS, event_id=99, amount=-7.5, type="transfer")
    lake = write(tmp_path, tables)
    validate_all(lake)
    folder = tmp_path / quarantine_path("events")
    assert names(folder) == ["part-00000.parquet"]
    table = read_table(str(folder))
    assert table.column_names == [*layout.EVENTS_SCHEMA.names, "_reason"]
    row = table.to_pylist()[0]
    assert (row["event_id"], row["customer_id"], row["amount"]) == (99, 1, -7.5)


def test_a_duplicate_keeps_one_row_and_valid_plus_quarantined_is_all(tmp_path: Path) -> None:
    tables = good_tables()
    events = tables[layout.EVENTS]
    doubled = pa.concat_tables([events, events.slice(1, 2), events.slice(1, 1)])  # ids unsorted
    lake = write(tmp_path, {**tables, layout.EVENTS: doubled})
    with duckdb_session(threads=1) as con:
        validator = LakeValidator(con, lake)
        result = validator.validate("events")
        kept = con.execute("SELECT event_id FROM valid_events ORDER BY 1").fetchall()
    assert (result.rows, result.valid, result.quarantined) == (8, 5, 3)
    assert [k[0] for k in kept] == [10, 11, 12, 13, 14]


def test_duplicate_ids_across_part_files_are_found(tmp_path: Path) -> None:
    tables = good_tables()
    lake = write(tmp_path, tables)
    again = tables[layout.EVENTS].slice(0, 2)
    pq.write_table(again, tmp_path / layout.EVENTS / layout.part_name(1))
    result = validate_all(lake)["events"]
    assert result.quarantined == 2
    assert result.reasons == {"event_id: duplicate event (one row kept)": 2}


def test_fixed_data_clears_the_old_quarantine(tmp_path: Path) -> None:
    lake = write(tmp_path, with_row(good_tables(), layout.EVENTS, event_id=20, ts=None))
    validate_all(lake)
    assert (tmp_path / quarantine_path("events")).exists()
    write(tmp_path, good_tables())
    validate_all(lake)
    assert not (tmp_path / quarantine_path("events")).exists()


def test_raw_types_that_cast_are_accepted(tmp_path: Path) -> None:
    events = good_tables()[layout.EVENTS]
    loose = pa.table(
        {
            "event_id": events.column("event_id").cast(pa.int32()),
            "customer_id": events.column("customer_id"),
            "type": events.column("type").dictionary_encode(),
            "ts": events.column("ts").cast(pa.timestamp("ns")),  # naive: read as UTC
            "amount": events.column("amount"),
            "extra": np.arange(5),
        }
    )
    lake = write(tmp_path, {**good_tables(), layout.EVENTS: loose})
    with duckdb_session(threads=1) as con:
        LakeValidator(con, lake).validate("events")
        first = con.execute("SELECT epoch_us(min(ts)) FROM valid_events").fetchall()[0][0]
    assert first == T0 - DAY


@pytest.mark.parametrize(
    ("column", "replacement", "message"),
    [
        pytest.param("ts", None, r"raw/events has no column 'ts' \(expected timestamp", id="gone"),
        pytest.param(
            "ts",
            pa.array(["2026-01-01"] * 5),
            "raw/events column 'ts' has type string; expected timestamp",
            id="string-ts",
        ),
        pytest.param(
            "amount",
            pa.array(["1"] * 5),
            "raw/events column 'amount' has type string; expected double",
            id="string-amount",
        ),
    ],
)
def test_a_raw_schema_that_does_not_fit_fails_the_dataset(
    tmp_path: Path, column: str, replacement: pa.Array | None, message: str
) -> None:
    events = good_tables()[layout.EVENTS]
    index = events.schema.get_field_index(column)
    broken = (
        events.remove_column(index)
        if replacement is None
        else events.set_column(index, column, replacement)
    )
    lake = write(tmp_path, {**good_tables(), layout.EVENTS: broken})
    with duckdb_session() as con, pytest.raises(DataError, match=message):
        LakeValidator(con, lake).validate("events")


def test_missing_dataset_and_unknown_name(tmp_path: Path) -> None:
    tables = good_tables()
    del tables[layout.EVENTS]
    lake = write(tmp_path, tables)
    with duckdb_session() as con:
        validator = LakeValidator(con, lake)
        with pytest.raises(DataError, match="has no raw/events dataset"):
            validator.validate("events")
        with pytest.raises(UserInputError, match="unknown raw dataset 'loans'"):
            validator.validate("loans")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"threads": 0}, "threads must be at least 1", id="threads"),
        pytest.param({"memory_limit": "lots"}, "memory_limit must look like", id="memory"),
    ],
)
def test_session_settings_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserInputError, match=message), duckdb_session(**kwargs):  # type: ignore[arg-type]
        pass


@pytest.mark.parametrize(
    ("parts", "repeats"),
    [
        pytest.param([[1, 2, 3], [4, 5], [6]], 0, id="sorted-disjoint-files"),
        pytest.param([[3, 1, 2], [4, 5]], 0, id="unsorted-file-no-repeat"),
        pytest.param([[1, 2], [5, 6], [2, 9]], 1, id="third-file-reaches-back"),
        pytest.param([[1, 5], [2, 3], [4, 5]], 1, id="chained-ranges"),
        pytest.param([[7, 7, 7], [8]], 2, id="three-of-a-kind"),
    ],
)
def test_repeated_event_ids_are_found_whatever_the_file_layout(
    tmp_path: Path, parts: list[list[int]], repeats: int
) -> None:
    tables = good_tables()
    del tables[layout.EVENTS]
    write(tmp_path, tables)
    folder = tmp_path / layout.EVENTS
    folder.mkdir(parents=True)
    for index, ids in enumerate(parts):
        n = len(ids)
        part = pa.table(
            {
                "event_id": ids,
                "customer_id": [1] * n,
                "type": ["login"] * n,
                "ts": _ts([T0 - DAY - i for i in range(n)]),  # distinct rows, same ids
                "amount": pa.array([None] * n, pa.float64()),
            },
            schema=layout.EVENTS_SCHEMA,
        )
        pq.write_table(part, folder / layout.part_name(index))
    result = validate_all(str(tmp_path))["events"]
    assert result.quarantined == repeats
    assert result.valid == len({i for ids in parts for i in ids})


def test_replace_dataset_cuts_parts_of_a_fixed_size(tmp_path: Path) -> None:
    from uplift_engine.lake import replace_dataset

    batches = [pa.record_batch({"x": list(range(start, stop))}) for start, stop in
               [(0, 2), (2, 3), (3, 7), (7, 8)]]  # fmt: skip
    target = tmp_path / "table"
    target.mkdir()
    (target / "part-00009.parquet").write_bytes(b"old")
    parts = replace_dataset(str(target), batches, rows_per_part=3, extra_files={"_m.json": b"{}"})
    assert [untag(n) for n in parts] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    sizes = [pq.read_metadata(target / n).num_rows for n in parts]
    assert sizes == [3, 3, 2]
    assert names(target) == ["_m.json", *map(untag, parts)]  # the old part is gone
    assert read_table(str(target)).column("x").to_pylist() == list(range(8))
