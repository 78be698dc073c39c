"""Lake generations: readers see the last committed generation whole, and nothing of the rest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from uplift_engine.errors import DataError
from uplift_engine.lake import read_table, resolve
from uplift_engine.lake.datasets import replace_dataset
from uplift_engine.lake.generations import (
    LAKE_DIR,
    collect_garbage,
    drop_dataset,
    read_current,
    writing,
)


def values(lake: Path, dataset: str = "raw/things") -> list[int]:
    return sorted(read_table(lake / dataset).column("x").to_pylist())


def write(lake: Path, xs: list[int], dataset: str = "raw/things") -> None:
    with writing(str(lake), command="test") as generation:
        replace_dataset(str(lake / dataset), [pa.record_batch({"x": xs})], generation=generation)


def dead_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_generation_is_invisible_until_it_commits(tmp_path: Path) -> None:
    write(tmp_path, [1, 2])
    with writing(str(tmp_path), command="test") as generation:
        folder = generation.folder("raw/things")
        pq.write_table(pa.table({"x": [7, 8, 9]}), Path(folder.path) / generation.name("p.parquet"))
        assert values(tmp_path) == [1, 2]  # readers still see the last commit
    assert values(tmp_path) == [7, 8, 9]
    assert [p.name.split(".")[0] for p in (tmp_path / "raw/things").iterdir()] == ["p"]


def test_a_failed_generation_leaves_nothing(tmp_path: Path) -> None:
    write(tmp_path, [1])
    with pytest.raises(RuntimeError), writing(str(tmp_path), command="test") as generation:
        folder = generation.folder("raw/things")
        pq.write_table(pa.table({"x": [5]}), Path(folder.path) / generation.name("p.parquet"))
        raise RuntimeError("the writer fails")
    assert values(tmp_path) == [1]
    assert len(list((tmp_path / "raw/things").iterdir())) == 1
    assert not list((tmp_path / LAKE_DIR / "writers").iterdir())


def test_files_other_tools_add_are_read_and_a_replacement_supersedes_them(tmp_path: Path) -> None:
    write(tmp_path, [1])
    pq.write_table(pa.table({"x": [2]}), tmp_path / "raw/things/delivery-0001.parquet")
    assert values(tmp_path) == [1, 2]  # appended by another tool: read as part of the dataset
    write(tmp_path, [3])
    assert values(tmp_path) == [3]
    assert not (tmp_path / "raw/things/delivery-0001.parquet").exists()


def test_superseded_files_stay_unread_when_the_cleanup_was_cut(tmp_path: Path) -> None:
    write(tmp_path, [1])
    extra = tmp_path / "raw/things/delivery-0001.parquet"
    pq.write_table(pa.table({"x": [2]}), extra)
    kept = extra.read_bytes()
    write(tmp_path, [3])
    extra.write_bytes(kept)  # as if the commit's cleanup had been killed before deleting it
    assert values(tmp_path) == [3]
    collect_garbage(resolve(str(tmp_path)))
    assert not extra.exists()


def test_a_dead_writers_files_are_collected_but_not_committed_ones(tmp_path: Path) -> None:
    write(tmp_path, [1])
    current = read_current(resolve(str(tmp_path)))
    assert current is not None
    committed = current["datasets"]["raw/things"]
    writers = tmp_path / LAKE_DIR / "writers"
    stray = tmp_path / "raw/things/p.g0123456789ab.parquet"
    pq.write_table(pa.table({"x": [9]}), stray)
    pid = dead_pid()
    for tag in ("g0123456789ab", committed["generation"]):  # one uncommitted, one committed
        record = {"tag": tag, "pid": pid, "host": os.uname().nodename, "started_at": 0,
                  "datasets": ["raw/things"]}  # fmt: skip
        (writers / f"{tag}.json").write_text(json.dumps(record))
    assert values(tmp_path) == [1]  # an uncommitted tag is never read
    collect_garbage(resolve(str(tmp_path)))
    assert not stray.exists() and not list(writers.iterdir())
    assert values(tmp_path) == [1]


def test_a_copy_holding_two_writes_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "lake", [1])
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "lake" / "raw/things", copy)
    assert read_table(copy).column("x").to_pylist() == [1]  # one write: read as it stands
    pq.write_table(pa.table({"x": [5]}), copy / "p.g0123456789ab.parquet")
    with pytest.raises(DataError, match="holds the files of 2 different writes"):
        read_table(copy)


def test_a_dataset_outside_any_lake_is_its_own_until_a_lake_writes_it(tmp_path: Path) -> None:
    folder = tmp_path / "raw/things"
    replace_dataset(str(folder), [pa.record_batch({"x": [4]})])  # no lake yet: its own
    assert (folder / LAKE_DIR / "current.json").exists() and values(tmp_path) == [4]
    write(tmp_path, [6])  # now the lake at tmp_path writes it
    assert not (folder / LAKE_DIR).exists() and values(tmp_path) == [6]


def test_a_dropped_dataset_disappears(tmp_path: Path) -> None:
    write(tmp_path, [1], "quarantine/things")
    write(tmp_path, [2])
    drop_dataset(str(tmp_path / "quarantine/things"))
    assert not (tmp_path / "quarantine/things").exists()
    assert values(tmp_path) == [2]
    current = read_current(resolve(str(tmp_path)))
    assert current is not None and current["datasets"]["quarantine/things"]["files"] == []
