"""The decision log's compactor: JSON lines from the services into the lake, one day a partition.

    LAKE/decisions/day=YYYY-MM-DD/part-NNNNN.parquet

Reads every log file of a folder (``decisions-*.jsonl``, a torn last line skipped), merges the
decisions with the days already in the lake, removes duplicates by ``request_id`` (a decision
retried, or a file compacted twice: the earliest copy is kept), and replaces the days it touched
in one lake generation — so a reader sees every day before or after, never half. Outside the
request path (``uplift decisions compact``); run it as often as wanted: it is idempotent. With
``remove_closed``, log files whose writer process is gone are deleted once their decisions are
committed to the lake.

Columns: ``request_id``, ``at`` (UTC), ``customer_id`` (text: ids are integers or strings),
``model_version``, ``plan_version``, ``features_sha256``, ``offer`` (null for none),
``degraded``, ``offers`` (each offer's figures as the Decision's JSON), ``schema_version``,
``audit`` (JSON: every rule that ran with the offers it removed, and pacing's state; null for
decisions logged before it was recorded), ``assignment`` (``champion`` or ``challenger`` when a
challenger was in play, else null) and ``shadow`` (JSON: the challenger's decision in shadow,
or null). Retention: :func:`prune` drops the days older than a
cutoff, in one lake generation (``uplift decisions prune --keep 400d``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError
from uplift_engine.lake import layout, read_table, replace_dataset, resolve, writing
from uplift_engine.replace import owner_alive
from uplift_engine.serve.decision_log import LOG_GLOB, read_lines

DECISIONS = "decisions"
SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("at", layout.TIMESTAMP),
        ("customer_id", pa.string()),
        ("model_version", pa.string()),
        ("plan_version", pa.string()),
        ("features_sha256", pa.string()),
        ("offer", pa.string()),
        ("degraded", pa.bool_()),
        ("offers", pa.string()),
        ("schema_version", pa.string()),
        ("audit", pa.string()),
        ("assignment", pa.string()),
        ("shadow", pa.string()),
    ]
)
_PID = re.compile(r"^decisions-\d{8}T\d{6}Z-(\d+)\.jsonl$")


@dataclass
class Compaction:
    """What one compaction did."""

    files: int = 0
    lines: int = 0
    bad_lines: int = 0
    duplicates: int = 0
    days: list[str] = field(default_factory=list)
    rows_written: int = 0
    removed_files: int = 0


def compact(
    log_folder: str | Path,
    lake: str,
    settings: Settings | None = None,
    *,
    remove_closed: bool = False,
) -> Compaction:
    """Merge the log folder's decisions into ``LAKE/decisions`` (see the module docstring)."""
    folder = Path(log_folder)
    if not folder.is_dir():
        raise DataError(f"decision log folder {str(folder)!r} does not exist", field="log")
    files = sorted(folder.glob(LOG_GLOB))
    done = Compaction(files=len(files))
    rows: list[dict[str, object]] = []
    for path in files:
        for line in read_lines(path):
            done.lines += 1
            row = _row(line)
            if row is None:
                done.bad_lines += 1
            else:
                rows.append(row)
    if rows:
        new = pa.Table.from_pylist(rows, schema=SCHEMA)
        days = pc.strftime(new.column("at"), format="%Y-%m-%d").to_pylist()
        by_day: dict[str, list[int]] = {}
        for i, day in enumerate(days):
            by_day.setdefault(day, []).append(i)
        with writing(lake, settings, command="uplift decisions compact") as generation:
            for day, index in sorted(by_day.items()):
                uri = f"{lake.rstrip('/')}/{DECISIONS}/day={day}"
                merged = pa.concat_tables([_existing(uri, settings), new.take(index)])
                kept = _first_by_request(merged)
                done.duplicates += merged.num_rows - kept.num_rows
                replace_dataset(uri, kept.to_batches(), settings, generation=generation)
                done.days.append(day)
                done.rows_written += kept.num_rows
    if remove_closed:
        for path in files:
            found = _PID.match(path.name)
            if found and int(found[1]) != os.getpid() and not owner_alive(int(found[1])):
                path.unlink()
                done.removed_files += 1
    return done


def _row(line: bytes) -> dict[str, object] | None:
    try:
        record = json.loads(line)
        return {
            "request_id": str(record["request_id"]),
            "at": datetime.fromtimestamp(int(record["at_us"]) / 1e6, UTC),
            "customer_id": str(record["customer_id"]),
            "model_version": record.get("model_version"),
            "plan_version": record.get("plan_version"),
            "features_sha256": record.get("features_sha256"),
            "offer": record.get("offer"),
            "degraded": bool(record.get("degraded", False)),
            "offers": json.dumps(record.get("offers", {}), sort_keys=True),
            "schema_version": record.get("schema_version"),
            "audit": json.dumps(
                {"rules": record.get("rules"), "pacing": record.get("pacing")}, sort_keys=True
            ),
            "assignment": record.get("assignment"),
            "shadow": None if record.get("shadow") is None else json.dumps(record["shadow"]),
        }
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def _existing(uri: str, settings: Settings | None) -> pa.Table:
    if not resolve(uri, settings).is_dir():  # the day is not in the lake yet
        return SCHEMA.empty_table()
    table = read_table(uri, settings)
    for name in SCHEMA.names:  # a column added since the day was written reads as null
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, SCHEMA.field(name).type))
    return table.select(SCHEMA.names).cast(SCHEMA)


def _first_by_request(table: pa.Table) -> pa.Table:
    """One row per ``request_id``: the earliest, rows in time order."""
    order = pc.sort_indices(table, [("at", "ascending"), ("request_id", "ascending")])
    table = table.take(order)
    seen: set[str] = set()
    keep = []
    for i, request in enumerate(table.column("request_id").to_pylist()):
        if request not in seen:
            seen.add(request)
            keep.append(i)
    return table.take(pa.array(keep, pa.int64()))


def read_decisions(lake: str, settings: Settings | None = None) -> pa.Table:
    """Every compacted decision of a local lake (the days in order)."""
    root = Path(lake) / DECISIONS
    days: Iterable[Path] = sorted(root.glob("day=*")) if root.is_dir() else []
    tables = [_existing(str(day), settings) for day in days]
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()


def prune(
    lake: str, keep_days: int, settings: Settings | None = None, *, today: str | None = None
) -> list[str]:
    """Drop the compacted days older than ``keep_days`` before ``today`` (UTC); the days dropped.

    One lake generation: a reader sees every day before or after, never a half-pruned log.
    """
    from datetime import date, timedelta

    from uplift_engine.lake.generations import drop_dataset

    if keep_days < 1:
        raise DataError(f"the retention must be at least 1 day, got {keep_days}", field="keep")
    now = date.fromisoformat(today) if today else datetime.now(UTC).date()
    cutoff = (now - timedelta(days=keep_days)).isoformat()
    root = Path(lake) / DECISIONS
    days = sorted(p.name[4:] for p in root.glob("day=*")) if root.is_dir() else []
    old = [day for day in days if day < cutoff]
    if old:
        with writing(lake, settings, command="uplift decisions prune") as generation:
            for day in old:
                drop_dataset(f"{lake.rstrip('/')}/{DECISIONS}/day={day}", settings,
                             within=generation)  # fmt: skip
    return old
