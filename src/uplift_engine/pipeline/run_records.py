"""The pipeline's run records: what each run read, did and decided, and where a killed one stopped.

    ROOT/runs/<run id>.json     the record: inputs and their fingerprints, the feature
                                definitions' and the code's fingerprints, the config, every
                                step done with its output, the metrics, the decision and why
    ROOT/runs/<run id>/         the run's own files: the candidate bundle, its plan, the gate's
    ROOT/runs/.lock             held by the one run at work on this root

A run's id is its start time and its *key* — the SHA-256 of the inputs', the feature
definitions', the code's and the config's fingerprints — so the same inputs make the same key:
a finished run with that key means there is nothing new to do, an unfinished one is resumed
from the step after its last recorded one. A record is replaced whole (staged, synced, renamed)
after each step, and a step's output is committed before the record names it, so a kill at any
moment leaves a record whose every named output is whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from uplift_engine.config.settings import Settings
from uplift_engine.errors import StorageError
from uplift_engine.lake import layout
from uplift_engine.lake.generations import dataset_files
from uplift_engine.lake.storage import resolve
from uplift_engine.replace import write_file

RUNS = "runs"
RUN_SCHEMA_VERSION = "uplift.pipeline-run/1"
RAW_DATASETS = (
    layout.CUSTOMERS, layout.EVENTS, layout.CAMPAIGNS, layout.ASSIGNMENTS, layout.OUTCOMES,
    layout.CONTACTS,
)  # fmt: skip


def inputs(lake: str, settings: Settings | None = None) -> dict[str, Any]:
    """Every raw dataset's visible files with their sizes, and the fingerprint of them all.

    A file is named by its path in the lake and its size: a new partition, a replaced one or
    a file whose bytes grew changes the fingerprint (the lake's files are written once and
    never edited in place, so name and size stand for the content without reading it).
    """
    root = resolve(lake, settings)
    out: dict[str, Any] = {}
    for name in RAW_DATASETS:
        folder = root.child(*name.split("/"))
        files = dataset_files(folder) if folder.exists() else []
        sizes = [root.fs.get_file_info(f.path).size for f in files]
        listed = [[f.path[len(root.path.rstrip("/")) + 1 :], int(s or 0)]
                  for f, s in zip(files, sizes, strict=True)]  # fmt: skip
        out[name] = {"files": len(listed), "bytes": sum(s for _, s in listed),
                     "sha256": _sha(listed)}  # fmt: skip
    return {"datasets": out, "sha256": _sha(out)}


def features_fingerprint() -> str:
    """SHA-256 of the feature definitions a campaign table is built with (every tier)."""
    from uplift_engine.features.offline.campaign_table import TABLE_FEATURES
    from uplift_engine.features.request_time import REQUEST_FEATURES

    specs = [repr(spec) for spec in TABLE_FEATURES] + [repr(f) for f in REQUEST_FEATURES]
    return _sha(specs)


def code_fingerprint() -> dict[str, str]:
    """The package's version and the SHA-256 of its source files (an edit changes it)."""
    import uplift_engine

    package = Path(uplift_engine.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return {"version": uplift_engine.__version__, "sha256": digest.hexdigest()}


def _sha(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def run_key(inputs_sha: str, features_sha: str, code_sha: str, config_sha: str) -> str:
    """The key of a run: the same inputs, features, code and config make the same key."""
    return _sha([inputs_sha, features_sha, code_sha, config_sha])


def folder(root: Path) -> Path:
    """Where the run records live."""
    return root / RUNS


def new_run_id(key: str) -> str:
    """A run's id: when it started and its key's first 12 characters."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{key[:12]}"


def save(root: Path, record: dict[str, Any]) -> None:
    """Replace the run's record whole, synced."""
    record["updated_at"] = now()
    text = json.dumps(record, sort_keys=True, default=str, indent=1).encode()
    write_file(folder(root) / f"{record['run']}.json", text, sync=True)


def load_runs(root: Path) -> list[dict[str, Any]]:
    """Every run record under ``root``, oldest first."""
    where = folder(root)
    if not where.is_dir():
        return []
    out = []
    for path in sorted(where.glob("*.json")):
        try:
            record = json.loads(path.read_bytes())
        except ValueError:
            continue  # never: records are replaced whole; a stray file is not a record
        if isinstance(record, dict) and record.get("schema_version") == RUN_SCHEMA_VERSION:
            out.append(record)
    return out


def find(root: Path, key: str) -> dict[str, Any] | None:
    """The latest run with ``key``, or None."""
    found = [r for r in load_runs(root) if r.get("key") == key]
    return found[-1] if found else None


@contextlib.contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold the root's run lock (one run at a time); refused at once when another holds it."""
    import fcntl  # POSIX, as the lake's commit lock; imported here so that reading records is not

    where = folder(root)
    where.mkdir(parents=True, exist_ok=True)
    fd = os.open(where / ".lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(
                f"another pipeline run is at work on {str(root)!r}; try again when it ends"
            ) from None
        yield
    finally:
        os.close(fd)


def now() -> str:
    """The time, as the records write it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
