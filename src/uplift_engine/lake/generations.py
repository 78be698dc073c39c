"""Lake generations: what one command writes into a lake becomes visible at once, or not at all.

    LAKE/_lake/current.json         the committed generation: every dataset's files (replaced
                                    last, by a rename locally or one PUT on S3)
    LAKE/_lake/log/<seq>.json       every committed generation, kept for the audit
    LAKE/_lake/writers/<tag>.json   a writer at work: its tag, process, host and datasets
    LAKE/_lake/lock                 held (locally) while a commit reads and replaces current.json

Invariant: a file that a generation writes is named ``<stem>.<tag>.<ext>``
(``part-00000.g1a2b3c4d5e6f.parquet``), so no writer ever overwrites a file that a reader may be
reading. ``current.json`` holds, for every dataset a generation replaced, that generation's
``files`` and the untagged files it ``superseded`` (those in the folder when it committed).
Readers (:func:`dataset_files`) see a dataset as its listed files plus the untagged files in its
folder that were not superseded: the last committed generation whole, and whatever other tools
append to the folder afterwards under names of their own (a Firehose delivery, a hand-dropped
part) — as they see a folder that no generation ever wrote. Files tagged by a generation that is
not listed (a writer at work, or a dead one) are never read. A commit replaces ``current.json``
in one step and then deletes what it superseded; a writer killed at any moment leaves only files
that nothing reads, which the next writer to the lake deletes (on this host once its process is
gone; elsewhere after :data:`STALE_AFTER`). The datasets one command writes (``uplift simulate``:
raw data, truth, quarantine and campaign tables) share one generation and appear together.

The decision log, the registry and the pipeline commit through the same :func:`writing`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError, StorageError
from uplift_engine.lake.storage import Location, resolve
from uplift_engine.replace import owner_alive, sweep_stale

LAKE_DIR = "_lake"
CURRENT = "current.json"
SCHEMA_VERSION = "uplift.lake/1"
STALE_AFTER = 7 * 24 * 3600.0
"""Seconds after which a writer on another host (or on S3) counts as dead."""
ROOT_SEARCH_DEPTH = 4
"""How many folders up from a dataset a reader looks for the lake's ``_lake/current.json``."""
_TAGGED = re.compile(r"^(?P<stem>[^/]+)\.(?P<tag>g[0-9a-f]{12})(?P<ext>\.[^./]+)$")
_TEMPORARY = re.compile(r"^\..+\.(tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")


@dataclass
class Generation:
    """An open generation of a lake: where to write each dataset, and under which tag."""

    root: Location
    tag: str
    command: str
    settings: Settings | None = None
    datasets: dict[str, bool] = field(default_factory=dict)
    """Dataset (relative path) → True when written, False when dropped."""

    def folder(self, dataset: str) -> Location:
        """The folder to write ``dataset``'s files into (its files must go through :meth:`name`).

        ``""`` is the root folder itself: a dataset that is its own lake.
        """
        dataset = _clean(dataset)
        if dataset not in self.datasets:
            self.datasets[dataset] = True
            self._record()
        return _folder(self.root, dataset)

    def name(self, file_name: str) -> str:
        """``part-00000.parquet`` → ``part-00000.<tag>.parquet``."""
        return tagged_name(file_name, self.tag)

    def files(self, dataset: str, suffix: str = ".parquet") -> list[Location] | None:
        """The files this generation wrote so far for ``dataset``, or None if it writes none."""
        if not self.datasets.get(dataset):
            return None
        folder = _folder(self.root, dataset)
        return [folder.child(n) for n, _ in _tagged_files(folder, self.tag) if n.endswith(suffix)]

    def drop(self, dataset: str) -> None:
        """Remove ``dataset`` from the lake when this generation commits."""
        self.datasets[_clean(dataset)] = False
        self._record()

    def dataset_of(self, uri: str) -> str | None:
        """``uri``'s path relative to this generation's root, or None when outside it."""
        return relative_dataset(self.root, resolve(uri, self.settings))

    def _record(self) -> None:
        record = {
            "tag": self.tag,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": time.time(),
            "command": self.command,
            "datasets": sorted(self.datasets),
        }
        self.root.child(LAKE_DIR, "writers", f"{self.tag}.json").write_bytes(
            json.dumps(record).encode()
        )


@contextlib.contextmanager
def writing(
    root_uri: str | Location,
    settings: Settings | None = None,
    *,
    command: str,
    within: Generation | None = None,
) -> Iterator[Generation]:
    """Open a generation of the lake at ``root_uri``, committed if the block completes.

    ``within``: an enclosing generation of the same lake (its commit covers this block too).
    Before it starts, the files of dead writers and of replaced generations are deleted.
    """
    root = root_uri if isinstance(root_uri, Location) else resolve(root_uri, settings)
    if within is not None and _same(within.root, root):
        yield within
        return
    collect_garbage(root)
    generation = Generation(root, f"g{uuid.uuid4().hex[:12]}", command, settings)
    generation._record()
    try:
        yield generation
    except BaseException:
        _abandon(generation)
        raise
    commit(generation)


def commit(generation: Generation) -> dict[str, Any]:
    """Make ``generation`` the lake's current one; returns the new ``current.json``."""
    root = generation.root
    with _commit_lock(root):
        previous = read_current(root) or {}
        datasets = dict(previous.get("datasets", {}))
        for dataset, written in generation.datasets.items():
            folder = _folder(root, dataset)
            files = _tagged_files(folder, generation.tag) if written else []
            nested = _nested(dataset, [*datasets, *generation.datasets])
            datasets[dataset] = {
                "generation": generation.tag,
                "files": [name for name, _ in files],
                "bytes": sum(size for _, size in files),
                "superseded": _untagged(folder, nested),
            }
        current = {
            "schema_version": SCHEMA_VERSION,
            "seq": int(previous.get("seq", 0)) + 1,
            "generation": generation.tag,
            "parent": previous.get("generation"),
            "command": generation.command,
            "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "written": sorted(generation.datasets),
            "datasets": dict(sorted(datasets.items())),
        }
        text = json.dumps(current, indent=2).encode()
        root.child(LAKE_DIR, "log", f"{current['seq']:08d}.json").write_bytes(text)
        root.child(LAKE_DIR, CURRENT).write_bytes(text, sync=True)
        root.child(LAKE_DIR, "writers", f"{generation.tag}.json").delete()
    with contextlib.suppress(OSError, StorageError):  # the next writer collects what is left
        _collect(root, current, generation.datasets)
    return current


def read_current(root: Location) -> dict[str, Any] | None:
    """The lake's committed generation, or None when no generation was ever committed."""
    pointer = root.child(LAKE_DIR, CURRENT)
    if not pointer.exists():
        return None
    try:
        current = json.loads(pointer.read_bytes())
    except ValueError as exc:
        raise StorageError(f"{pointer.uri!r} is not JSON: {exc}") from exc
    if not isinstance(current, dict) or current.get("schema_version") != SCHEMA_VERSION:
        raise StorageError(
            f"{pointer.uri!r} is not a lake generation of schema {SCHEMA_VERSION!r}"
        )
    return current


def tagged_name(file_name: str, tag: str) -> str:
    """``part-00000.parquet`` → ``part-00000.<tag>.parquet``: a file of generation ``tag``."""
    stem, dot, ext = file_name.rpartition(".")
    return f"{stem}.{tag}.{ext}" if dot else f"{file_name}.{tag}"


def dataset_files(
    folder: Location, suffix: str = ".parquet", *, generation: Generation | None = None
) -> list[Location]:
    """The files of the dataset in ``folder`` that readers may see, in name order.

    In an open ``generation`` that writes this dataset: the files it wrote (a command reads
    what it wrote before it commits). In a lake with generations: the files its current
    generation lists. Otherwise: the files in the folder (recursively, hidden ones aside) but
    those of uncommitted writers; a folder that holds the files of several writers (copied
    while one was at work) is refused.
    """
    if generation is not None:
        dataset = relative_dataset(generation.root, folder)
        own = None if dataset is None else generation.files(dataset, suffix)
        if own is not None:
            return own
    found = find_root(folder)
    if found is not None:
        _, dataset, current = found
        entry = current["datasets"].get(dataset, {})
        nested = _nested(dataset, current["datasets"])
        hidden = set(entry.get("superseded", []))
        listed = [folder.child(n) for n in entry.get("files", []) if n.endswith(suffix)]
        added = [
            folder.child(*n.split("/"))
            for n in _untagged(folder, nested)
            if n not in hidden and n.endswith(suffix)
        ]
        return sorted([*listed, *added], key=lambda f: f.path)
    files = folder.list_files(suffix)
    tags = {m["tag"] for f in files if (m := _TAGGED.match(_base(f.path)))}
    if len(tags) > 1:
        raise DataError(
            f"folder {folder.uri!r} holds the files of {len(tags)} different writes "
            f"({', '.join(sorted(tags))}), copied without its lake's _lake/current.json; "
            "copy the dataset again from its lake"
        )
    return files


def find_root(folder: Location) -> tuple[Location, str, dict[str, Any]] | None:
    """The lake (with generations) that ``folder`` belongs to, its dataset path and generation."""
    parts: list[str] = []
    here = folder
    for _ in range(ROOT_SEARCH_DEPTH + 1):
        current = read_current(here)
        if current is not None:
            return here, "/".join(reversed(parts)), current
        parent = _parent(here)
        if parent is None:
            return None
        parts.append(_base(here.path))
        here = parent
    return None


def relative_dataset(root: Location, target: Location) -> str | None:
    """``target``'s path relative to ``root`` (``""`` for the root), or None outside it."""
    if _same(root, target):
        return ""
    base = root.path.rstrip("/") + "/"
    if type(root.fs) is not type(target.fs) or not target.path.startswith(base):
        return None
    return _clean(target.path[len(base) :])


def collect_garbage(root: Location) -> None:
    """Delete what dead writers left in the lake, and files that no generation lists."""
    writers = root.child(LAKE_DIR, "writers")
    current = read_current(root)
    listed = {
        (dataset, name)
        for dataset, entry in (current or {}).get("datasets", {}).items()
        for name in entry.get("files", [])
    }  # a writer killed between its commit and removing its record: its files stay
    for record_file in writers.list_files(".json"):
        try:
            record = json.loads(record_file.read_bytes())
        except (ValueError, StorageError):
            continue
        if _alive(record):
            continue
        for dataset in record.get("datasets", []):
            folder = _folder(root, dataset)
            for name, _ in _tagged_files(folder, str(record.get("tag"))):
                if (dataset, name) not in listed:
                    folder.child(name).delete()
        record_file.delete()
    if current is not None:
        _collect(root, current, dict.fromkeys(current.get("written", []), True))


def _collect(root: Location, current: dict[str, Any], datasets: dict[str, bool]) -> None:
    """Delete, in ``datasets``' folders, what no reader sees.

    That is: superseded files, and the files and temporaries of generations that are not
    listed, but those of writers at work.
    """
    live = _live_tags(root)
    listed = current.get("datasets", {})
    for dataset in datasets:
        folder = _folder(root, dataset)
        if dataset:  # the lake of a dataset once written on its own: this one replaces it
            folder.child(LAKE_DIR).delete()
        entry = listed.get(dataset, {})
        keep = set(entry.get("files", []))
        for name in entry.get("superseded", []):
            folder.child(*name.split("/")).delete()
        for item in _entries(folder):
            name = item.base_name
            tagged, temporary = _TAGGED.match(name), _TEMPORARY.match(name)
            if name in keep or name == LAKE_DIR or (tagged and tagged["tag"] in live):
                continue
            if tagged or (temporary and not owner_alive(int(temporary["pid"]))):
                folder.child(name).delete()
        if dataset and not keep and folder.is_dir() and not _entries(folder):
            folder.delete()


def _live_tags(root: Location) -> set[str]:
    tags = set()
    for record_file in root.child(LAKE_DIR, "writers").list_files(".json"):
        with contextlib.suppress(ValueError, StorageError):
            record = json.loads(record_file.read_bytes())
            if _alive(record):
                tags.add(str(record.get("tag")))
    return tags


def _alive(record: dict[str, Any]) -> bool:
    if record.get("host") == socket.gethostname():
        return owner_alive(int(record.get("pid", -1)))
    return time.time() - float(record.get("started_at", 0)) < STALE_AFTER


def _abandon(generation: Generation) -> None:
    """A writer that failed removes its own files and record (a killed one is collected later)."""
    with contextlib.suppress(Exception):
        for dataset in generation.datasets:
            folder = _folder(generation.root, dataset)
            for name, _ in _tagged_files(folder, generation.tag):
                folder.child(name).delete()
        generation.root.child(LAKE_DIR, "writers", f"{generation.tag}.json").delete()


@contextlib.contextmanager
def _commit_lock(root: Location) -> Iterator[None]:
    """An exclusive lock on the lake's commit (local lakes; S3 lakes have one writer at a time)."""
    if not root.is_local:
        yield
        return
    import fcntl

    folder = Path(root.path) / LAKE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    sweep_stale(folder / CURRENT)
    with open(folder / "lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass(frozen=True)
class _Entry:
    base_name: str
    size: int


def _entries(folder: Location) -> list[_Entry]:
    selector = pafs.FileSelector(folder.path, recursive=False, allow_not_found=True)
    try:
        infos = folder.fs.get_file_info(selector)
    except (OSError, ValueError) as exc:
        if not folder.exists():
            return []
        raise StorageError(f"cannot list {folder.uri!r}: {exc}") from exc
    return [_Entry(_base(i.path), i.size or 0) for i in infos]


def _untagged(folder: Location, nested: list[str]) -> list[str]:
    """Files in ``folder`` (recursively; hidden ones, nested datasets and lakes aside) untagged."""
    base = folder.path.rstrip("/") + "/"
    names = []
    for file in folder.list_files():
        name = file.path[len(base) :]
        inside = any(name.startswith(n + "/") for n in (*nested, LAKE_DIR))
        if inside or _TAGGED.match(_base(name)) or f"/{LAKE_DIR}/" in f"/{name}":
            continue
        names.append(name)
    return names


def _nested(dataset: str, datasets: Iterable[str]) -> list[str]:
    """The datasets below ``dataset``'s folder, relative to it."""
    prefix = dataset + "/" if dataset else ""
    return sorted({d[len(prefix) :] for d in datasets if d != dataset and d.startswith(prefix)})


def _tagged_files(folder: Location, tag: str) -> list[tuple[str, int]]:
    found = []
    for entry in _entries(folder):
        match = _TAGGED.match(entry.base_name)
        if match and match["tag"] == tag:
            found.append((entry.base_name, entry.size))
    return sorted(found)


def _parent(loc: Location) -> Location | None:
    path = loc.path.rstrip("/")
    if "/" not in path.lstrip("/"):
        return None
    head = path.rsplit("/", 1)[0] or "/"
    uri = loc.uri.rstrip("/").rsplit("/", 1)[0] if "/" in loc.uri.rstrip("/") else head
    if not loc.is_local and "/" not in path:  # an S3 bucket has no parent
        return None
    return Location(loc.fs, head, uri or head)


def _same(a: Location, b: Location) -> bool:
    return type(a.fs) is type(b.fs) and a.path.rstrip("/") == b.path.rstrip("/")


def _base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _folder(root: Location, dataset: str) -> Location:
    return root.child(*dataset.split("/")) if dataset else root


def _clean(dataset: str) -> str:
    cleaned = "/".join(p for p in dataset.strip("/").split("/") if p not in ("", "."))
    if ".." in cleaned.split("/") or cleaned.split("/")[0] == LAKE_DIR:
        raise StorageError(f"{dataset!r} is not a dataset path inside a lake")
    return cleaned


@contextlib.contextmanager
def writing_dataset(
    uri: str,
    settings: Settings | None = None,
    *,
    command: str,
    within: Generation | None = None,
) -> Iterator[tuple[Generation, Location]]:
    """A generation that writes the one dataset at ``uri``, and the dataset's folder.

    The generation is ``within`` when ``uri`` lies in its lake; else one of the lake that
    ``uri`` belongs to; else, outside any lake, one of the dataset as a lake of its own
    (``URI/_lake/``), which a lake that later writes the same folder replaces.
    """
    target = resolve(uri, settings)
    if within is not None and relative_dataset(within.root, target) is not None:
        root = within.root
    else:
        found = find_root(target)
        root = found[0] if found is not None else target
    dataset = relative_dataset(root, target)
    if dataset is None:  # pragma: no cover - root is an ancestor by construction
        raise StorageError(f"{uri!r} is not inside {root.uri!r}")
    with writing(root, settings, command=command, within=within) as generation:
        yield generation, generation.folder(dataset)


def drop_dataset(
    uri: str, settings: Settings | None = None, *, within: Generation | None = None
) -> None:
    """Remove the dataset at ``uri`` (with ``within``'s commit, or at once) if it is there."""
    target = resolve(uri, settings)
    if not target.exists() and within is None:
        return
    found = find_root(target) if within is None else None
    if found is not None and found[1] == "":  # a dataset that is its own lake: nothing else
        target.delete()  # lists it
        return
    with writing_dataset(uri, settings, command="drop", within=within) as (generation, folder):
        dataset = relative_dataset(generation.root, folder)
        generation.drop(dataset or "")
