"""The decision log: durable group commits, torn lines skipped, compaction into the lake by day."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from uplift_engine.serve.compact import compact, read_decisions
from uplift_engine.serve.decision_log import DecisionLog, read_lines

DAY = 1_796_000_000_000_000  # 2026-11-30 UTC, in µs


def record(request_id: str, at_us: int, customer: int | str = 1, offer: str | None = "cashback"):
    return {"schema_version": "uplift.decision/1", "request_id": request_id, "at_us": at_us,
            "customer_id": customer, "model_version": "abc123abc123", "plan_version": None,
            "features_sha256": "0" * 16, "offer": offer, "offers": {"cashback": {"uplift": 0.1}},
            "degraded": False}  # fmt: skip


def test_lines_from_many_threads_are_all_written_in_fewer_syncs(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path)
    threads = [
        threading.Thread(target=lambda k=k: [log.append(f'{{"n": {k * 1000 + i}}}\n'.encode())
                                             for i in range(200)])
        for k in range(8)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    numbers = sorted(json.loads(line)["n"] for line in read_lines(log.path))
    assert numbers == sorted(k * 1000 + i for k in range(8) for i in range(200))
    assert log.lines == 1600 and log.commits < 1600  # group commits: several lines a sync


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "decisions-20261130T000000Z-1.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    assert list(read_lines(path)) == [b'{"a": 1}', b'{"b": 2}']


def test_compaction_by_day_without_duplicates_and_idempotent(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    first = [record("r1", DAY), record("r2", DAY + 1), record("r3", DAY + 86_400_000_000, "c-7")]
    second = [record("r2", DAY + 5), record("r4", DAY + 2, offer=None)]  # r2 again: a retry
    lines = [json.dumps(r) for r in first]
    (logs / "decisions-20261130T000000Z-999999991.jsonl").write_text("\n".join(lines) + "\n")
    (logs / "decisions-20261130T000001Z-999999992.jsonl").write_text(
        "\n".join(json.dumps(r) for r in second) + "\nnot json\n" + '{"torn": '
    )
    lake = str(tmp_path / "lake")
    done = compact(logs, lake)
    assert done.lines == 6 and done.bad_lines == 1 and done.duplicates == 1
    assert done.days == ["2026-11-30", "2026-12-01"]
    table = read_decisions(lake)
    assert sorted(table.column("request_id").to_pylist()) == ["r1", "r2", "r3", "r4"]
    r2 = next(r for r in table.to_pylist() if r["request_id"] == "r2")
    assert r2["at"].timestamp() * 1e6 == pytest.approx(DAY + 1)  # the earliest copy is kept
    assert table.column("customer_id").to_pylist().count("c-7") == 1
    again = compact(logs, lake, remove_closed=True)  # the same logs again: nothing new
    assert again.duplicates == 5 and read_decisions(lake).num_rows == 4
    assert again.removed_files == 2 and not list(logs.glob("*.jsonl"))
